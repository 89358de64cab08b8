//! The recordings a run was trained on (`inputs.json`): each file's path, size and a hash of
//! its bytes, written when a run starts. `ddsp export` reads the paths back; `ddsp train
//! --resume` compares them with the files it is given, so a resumed run never goes on with
//! other recordings (or the same names with other contents) unless the user says so.
//!
//! The hash is 64-bit FNV-1a over the whole file: stable across machines and Rust versions
//! (unlike `std`'s hasher), dependency-free, and at about 1 GB/s far quicker than decoding
//! the audio the run reads anyway. It guards against mistakes, not against an adversary.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// One input file as the run saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInput {
    /// The path as given (after folders were searched).
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// FNV-1a 64 of its bytes, as 16 hex digits.
    pub fnv1a64: String,
}

impl RunInput {
    /// Reads `path` and records its size and hash.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), bytes: data.len() as u64, fnv1a64: format!("{:016x}", fnv1a64(&data)) })
    }
}

/// FNV-1a, 64 bits.
fn fnv1a64(data: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter().fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// What `inputs.json` holds: the records, or (runs made before the hashes) the paths alone.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Records(Vec<RunInput>),
    Paths(Vec<PathBuf>),
}

/// Reads `inputs.json`; runs written before the hashes give records with an empty hash.
pub fn read_inputs(path: &Path) -> anyhow::Result<Vec<RunInput>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let stored: Stored = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a list of the run's input files", path.display()))?;
    Ok(match stored {
        Stored::Records(records) => records,
        Stored::Paths(paths) => {
            paths.into_iter().map(|path| RunInput { path, bytes: 0, fnv1a64: String::new() }).collect()
        }
    })
}

/// Writes `inputs.json` atomically.
pub fn write_inputs(path: &Path, inputs: &[RunInput]) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(inputs)?;
    ddsp_shared::atomic_file::write_atomically(path, |w| -> std::io::Result<()> { std::io::Write::write_all(w, &json) })
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Fails, naming what differs, unless `now` are the files `before` recorded: the same names in
/// the same order with the same contents (contents are compared where `before` has a hash).
pub fn check_same_inputs(before: &[RunInput], now: &[RunInput]) -> anyhow::Result<()> {
    let hint = "resume with the run's own recordings, or add --new-inputs to go on training this model on these";
    let names = |inputs: &[RunInput]| inputs.iter().map(|i| i.path.display().to_string()).collect::<Vec<_>>();
    if names(before) != names(now) {
        bail!(
            "--resume: this run was trained on {} but was given {}; {hint}",
            names(before).join(", "),
            names(now).join(", ")
        );
    }
    for (b, n) in before.iter().zip(now) {
        if !b.fnv1a64.is_empty() && (b.bytes, &b.fnv1a64) != (n.bytes, &n.fnv1a64) {
            bail!(
                "--resume: {} has changed since this run started ({} bytes then, {} now, other contents); {hint}",
                n.path.display(),
                b.bytes,
                n.bytes
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_its_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn other_names_or_contents_are_refused_and_old_runs_compare_names() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        std::fs::write(&a, b"RIFF one").unwrap();
        let before = vec![RunInput::of(&a).unwrap()];
        check_same_inputs(&before, &[RunInput::of(&a).unwrap()]).unwrap();

        std::fs::write(&a, b"RIFF two").unwrap();
        let err = check_same_inputs(&before, &[RunInput::of(&a).unwrap()]).unwrap_err().to_string();
        assert!(err.contains("a.wav has changed") && err.contains("--new-inputs"), "{err}");

        let b = dir.path().join("b.wav");
        std::fs::write(&b, b"RIFF one").unwrap();
        let err = check_same_inputs(&before, &[RunInput::of(&b).unwrap()]).unwrap_err().to_string();
        assert!(err.contains("trained on") && err.contains("b.wav"), "{err}");

        // inputs.json from before the hashes: a list of paths, compared by name.
        let json = dir.path().join("inputs.json");
        std::fs::write(&json, serde_json::to_vec(&[&a]).unwrap()).unwrap();
        let old = read_inputs(&json).unwrap();
        check_same_inputs(&old, &[RunInput::of(&a).unwrap()]).unwrap();
        write_inputs(&json, &before).unwrap();
        assert_eq!(read_inputs(&json).unwrap(), before);
    }
}
