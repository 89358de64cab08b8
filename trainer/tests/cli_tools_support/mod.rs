//! Shared by the `cli_tools_*` end-to-end tests: run the real `ddsp` binary, scratch folders,
//! the example data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ddsp_shared::Envelope;

/// Runs `ddsp` with `args` in `dir`.
pub fn ddsp_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddsp"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ddsp")
}

/// Runs `ddsp` and insists it succeeds.
pub fn ddsp_ok(dir: &Path, args: &[&str]) -> String {
    let out = ddsp_in(dir, args);
    assert!(
        out.status.success(),
        "ddsp {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ddsp`, insists it fails with exit code 1, returns stderr.
pub fn ddsp_err(dir: &Path, args: &[&str]) -> String {
    let out = ddsp_in(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ddsp {args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddsp-cli-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A numpy-written fixture archive (trainer/tests/fixtures/npz).
pub fn npz_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npz")
        .join(name)
}

/// Reads a unified CSV or panics with the reader's message.
pub fn read_csv(path: &Path) -> Envelope {
    ddsp_shared::unified_csv::read_path(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The example violin CSV (made from examples/violin_phrase_44k.wav by `ddsp analyze`).
pub fn violin_csv() -> PathBuf {
    repo_root().join("examples/violin_phrase.csv")
}
