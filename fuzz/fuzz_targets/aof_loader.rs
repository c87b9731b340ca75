//! Fuzzes the AOF loaders: the manifest parser and the command-form reader. Any input
//! must end in a result or an error (no panic, no allocation beyond the input), and
//! what they accept must survive being written back:
//!
//! - a parsed manifest, written again, parses to the same manifest (when its lines fit
//!   Redis's line limit: quoting can lengthen a name);
//! - commands read from a file, encoded again, read back the same;
//! - cutting a truncated file where the reader says leaves a file that reads cleanly
//!   with the same commands.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lodestone_aof::manifest::MANIFEST_MAX_LINE;
use lodestone_aof::{encode_command, CommandReader, Manifest, ReadError};

fuzz_target!(|data: &[u8]| {
    check_manifest(data);
    check_commands(data);
});

fn check_manifest(data: &[u8]) {
    let Ok(manifest) = Manifest::parse(data) else {
        return;
    };
    let text = manifest.to_bytes();
    let fits = text
        .split(|&b| b == b'\n')
        .all(|line| line.len() < MANIFEST_MAX_LINE);
    if fits && !text.is_empty() {
        assert_eq!(Manifest::parse(&text).as_ref(), Ok(&manifest));
    }
}

fn check_commands(data: &[u8]) {
    let mut commands = Vec::new();
    let mut cut = None;
    for item in CommandReader::new(data) {
        match item {
            Ok(command) => commands.push(command),
            Err(ReadError::Truncated { valid_up_to })
            | Err(ReadError::UnfinishedMulti { valid_up_to }) => cut = Some(valid_up_to),
            Err(ReadError::Corrupt { .. }) => {}
        }
    }

    let mut encoded = Vec::new();
    for command in &commands {
        encode_command(&mut encoded, &command.args);
    }
    let reread: Vec<Vec<Vec<u8>>> = CommandReader::new(&encoded)
        .filter_map(Result::ok)
        .map(|c| c.args)
        .collect();
    let args: Vec<&Vec<Vec<u8>>> = commands.iter().map(|c| &c.args).collect();
    assert_eq!(reread.iter().collect::<Vec<_>>(), args);

    if let Some(cut) = cut {
        let kept: Vec<&Vec<Vec<u8>>> = commands
            .iter()
            .filter(|c| c.end <= cut)
            .map(|c| &c.args)
            .collect();
        let mut repaired = Vec::new();
        for item in CommandReader::new(&data[..cut]) {
            match item {
                Ok(command) => repaired.push(command.args),
                Err(err) => panic!("the cut file still fails: {err}"),
            }
        }
        assert_eq!(repaired.iter().collect::<Vec<_>>(), kept);
    }
}
