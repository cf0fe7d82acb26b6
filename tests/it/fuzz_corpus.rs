//! Replays the fuzz corpus (`fuzz/corpus/scenario`, kept crash-free by `cargo fuzz`) through the
//! fuzz target's own harness on the stable toolchain, so every `cargo test` re-checks the inputs
//! the fuzzer found interesting: no panic anywhere from decoding to generation, and every trace
//! within the static worst case. Many inputs are alias bombs that the loader must refuse at its
//! budget, which is slow in a debug build, so the replay uses every core.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::PathBuf;

#[test]
fn every_corpus_input_loads_or_fails_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/scenario");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 30, "only {} corpus inputs", paths.len());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let panicked: Vec<PathBuf> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let paths = &paths;
                scope.spawn(move || {
                    paths
                        .iter()
                        .skip(k)
                        .step_by(threads)
                        .filter(|path| {
                            let bytes = std::fs::read(path).unwrap();
                            let Ok(text) = std::str::from_utf8(&bytes) else {
                                return false;
                            };
                            std::panic::catch_unwind(|| harness::exercise(text)).is_err()
                        })
                        .cloned()
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        panicked.is_empty(),
        "these corpus inputs panic: {panicked:?}"
    );
}
