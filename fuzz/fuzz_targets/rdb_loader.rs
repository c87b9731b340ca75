//! Fuzzes the RDB loaders: a DUMP payload body (RESTORE) and a whole RDB file. Any
//! input must end in a value or an error: no panic, no allocation beyond the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lodestone_rdb::codec::Reader;
use lodestone_store::EncodingLimits;

fuzz_target!(|data: &[u8]| {
    let limits = EncodingLimits::default();
    let _ = lodestone_rdb::value::read_value(&mut Reader::new(data), &limits);
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let _ = lodestone_rdb::file::load(&file, &limits, |_| Ok(()));
});
