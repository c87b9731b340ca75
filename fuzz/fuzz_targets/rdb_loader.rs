//! Fuzzes the RDB loaders: a DUMP payload body (RESTORE) and a whole RDB file. Any
//! input must end in a value or an error: no panic, no allocation beyond the input.
//! Also checks the LZF compressor (the input round-trips through it) and that a value
//! that loads dumps to the same value with compression on as off.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lodestone_rdb::codec::Reader;
use lodestone_store::EncodingLimits;
use lodestone_util::lzf;

fuzz_target!(|data: &[u8]| {
    let limits = EncodingLimits::default();
    if let Ok(value) = lodestone_rdb::value::read_value(&mut Reader::new(data), &limits) {
        let through = |compress: bool| {
            let payload = lodestone_rdb::dump::dump(&value, compress);
            lodestone_rdb::dump::restore(&payload, &limits)
                .ok()
                .map(|back| lodestone_rdb::dump::dump(&back, false))
        };
        assert_eq!(through(true), through(false));
    }
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let _ = lodestone_rdb::file::load(&file, &limits, |_| Ok(()));

    let mut packed = Vec::new();
    assert!(lzf::compress(data, &mut packed, lzf::max_compressed_len(data.len())));
    assert_eq!(lzf::decompress(&packed, data.len()).as_deref(), Some(data));
});
