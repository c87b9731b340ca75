//! Replays the fuzz corpus through the fuzz target's checks with plain `cargo test`,
//! so machines without a nightly toolchain (CI) still run every saved input: the
//! committed seeds, plus any local cargo-fuzz corpus and crash artifacts.

mod support;

use std::path::{Path, PathBuf};

use support::feed::fuzz_one;

fn inputs_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Every saved fuzz input parses without panicking and independently of its split.
#[test]
fn fuzz_corpus_replays_cleanly() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seeds = inputs_under(&fuzz.join("seeds/request_parser"));
    assert!(!seeds.is_empty(), "committed seeds are missing");
    let local = ["corpus/request_parser", "artifacts/request_parser"]
        .iter()
        .flat_map(|d| inputs_under(&fuzz.join(d)));
    for path in seeds.iter().cloned().chain(local) {
        let data = std::fs::read(&path).expect("read fuzz input");
        fuzz_one(&data);
    }
}
