//! Running the real `ddsp` binary from a test, and the files tests run it on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `ddsp` binary cargo built for this test run: `target/<profile>/ddsp`, the folder above
/// the test binary's `deps/` (where cargo puts `CARGO_BIN_EXE_ddsp` too). `cargo test
/// --workspace` (and `cargo xtask test`) build it before any test runs.
pub fn ddsp_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let binary = profile_dir.join(format!("ddsp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} not found: run the tests with `cargo test --workspace` (or `cargo build -p ddsp-trainer` first)",
        binary.display()
    );
    binary
}

/// A `ddsp` command, to add arguments to.
pub fn ddsp_command() -> Command {
    Command::new(ddsp_binary())
}

/// Runs `ddsp` with `args`.
pub fn ddsp(args: &[&str]) -> Output {
    ddsp_command().args(args).output().expect("run ddsp")
}

/// Runs `ddsp` with `args` in `dir`.
pub fn ddsp_in(dir: &Path, args: &[&str]) -> Output {
    ddsp_command().args(args).current_dir(dir).output().expect("run ddsp")
}

/// Runs `ddsp` in `dir`, insists it succeeds, and returns its standard output.
pub fn ddsp_ok_in(dir: &Path, args: &[&str]) -> String {
    let out = ddsp_in(dir, args);
    assert!(
        out.status.success(),
        "ddsp {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ddsp`, insists it succeeds, and returns its standard output.
pub fn ddsp_ok(args: &[&str]) -> String {
    ddsp_ok_in(Path::new("."), args)
}

/// Runs `ddsp` in `dir`, insists it fails with exit code 1, and returns its standard error.
pub fn ddsp_err_in(dir: &Path, args: &[&str]) -> String {
    let out = ddsp_in(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ddsp {args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(&out)
}

/// `ddsp eval --json` of `candidate` against `reference`: the report as JSON.
pub fn eval_json(reference: &Path, candidate: &Path) -> serde_json::Value {
    let out = ddsp_ok(&[
        "eval",
        "--reference",
        reference.to_str().unwrap(),
        "--candidate",
        candidate.to_str().unwrap(),
        "--json",
    ]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("eval --json printed invalid JSON ({e}): {out}"))
}

/// Training options of a model small enough to train in seconds (hidden 16, batches of two
/// 1 s examples at 50 frames/s, a fast learning rate, a fixed seed); tests add `--steps`.
pub const TINY_TRAINING: [&str; 14] = [
    "--hidden",
    "16",
    "--batch-size",
    "2",
    "--example-s",
    "1",
    "--frame-rate",
    "50",
    "--checkpoint-every",
    "10",
    "--learning-rate",
    "0.01",
    "--seed",
    "1",
];

/// A command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// A bundled example file (`examples/NAME`).
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// A fresh, empty folder for one test, removed when the value is dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("ddsp-test-").tempdir().expect("a scratch folder in the temp dir")
}
