//! Reading and writing envelopes for the tools, by file extension: `.npz` is an envelope
//! archive (SPEC §3, written at frame resolution, see [`crate::envelope_archive`]), anything
//! else a unified CSV (SPEC §2). Writes are atomic; an output that is one of the inputs (after
//! resolving links and `..`) is refused before anything is read; big files get a progress bar
//! on a terminal.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ddsp_shared::{unified_csv, Envelope};
use indicatif::{ProgressBar, ProgressStyle};

use crate::envelope_archive::{EnvelopeArchive, EnvelopeResolution};

/// Files at least this big show a progress bar while being read (when stderr is a terminal).
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;
/// Envelopes with at least this many components (frames × (harmonics + bands)) show one while
/// being written.
pub const PROGRESS_MIN_COMPONENTS: usize = 250_000;

/// The two formats the tools read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.npz` envelope archive.
    Npz,
    /// Unified CSV.
    Csv,
}

/// `.npz` (any case) is an archive; everything else is read and written as unified CSV.
pub fn format_of(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("npz") => Format::Npz,
        _ => Format::Csv,
    }
}

/// Reads an envelope from a `.npz` archive (one frame per control frame) or a unified CSV.
pub fn read_envelope(path: &Path) -> Result<Envelope> {
    match format_of(path) {
        Format::Npz => Ok(EnvelopeArchive::read(path)?.to_envelope()),
        Format::Csv => read_csv(path),
    }
}

fn read_csv(path: &Path) -> Result<Envelope> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if len >= PROGRESS_MIN_BYTES { bytes_bar(len, path, "reading") } else { ProgressBar::hidden() };
    let env = unified_csv::read_from(BufReader::new(bar.wrap_read(file)))
        .with_context(|| format!("cannot read {} as a unified CSV", path.display()))?;
    bar.finish_and_clear();
    Ok(env)
}

/// Writes `env` atomically as an `.npz` archive (frame resolution) or a unified CSV, by the
/// extension of `path`.
pub fn write_envelope(env: &Envelope, path: &Path) -> Result<()> {
    env.validate().map_err(|e| anyhow::anyhow!("refusing to write {}: {e}", path.display()))?;
    match format_of(path) {
        Format::Npz => EnvelopeArchive::from_envelope(env, EnvelopeResolution::Frame)?.write(path),
        Format::Csv => {
            let components = env.frame_count() * (env.harmonic_count + env.noise_band_count);
            let bar =
                if components >= PROGRESS_MIN_COMPONENTS { spinner(path, "writing") } else { ProgressBar::hidden() };
            ddsp_shared::atomic_file::write_atomically::<anyhow::Error, _>(path, |w| {
                unified_csv::write_to(env, bar.wrap_write(&mut *w))?;
                Ok(())
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
            bar.finish_and_clear();
            Ok(())
        }
    }
}

/// One line about an envelope for the tools' "wrote …" message.
pub fn describe(env: &Envelope) -> String {
    format!(
        "{} frames ({:.2} s), {} harmonics, {} noise bands, frame_rate={}, sample_rate={}",
        env.frame_count(),
        env.duration_s(),
        env.harmonic_count,
        env.noise_band_count,
        env.frame_rate_hz,
        env.sample_rate_hz
    )
}

/// Fails when `output` would replace one of `inputs` (compared after canonicalisation, so
/// `./a.csv`, `dir/../a.csv` and links count as the same file), when its folder does not
/// exist, or when it names a folder.
pub fn refuse_to_overwrite_inputs<P: AsRef<Path>>(inputs: &[P], output: &Path) -> Result<()> {
    if output.is_dir() {
        bail!(
            "the output {} is a folder; give a file name such as {}",
            output.display(),
            output.join("out.csv").display()
        );
    }
    let Some(name) = output.file_name() else {
        bail!("the output {} has no file name", output.display());
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent =
        parent.canonicalize().with_context(|| format!("the output folder {} does not exist", parent.display()))?;
    let target = parent.join(name);
    let target = target.canonicalize().unwrap_or(target);
    for input in inputs {
        let input = input.as_ref();
        if input.canonicalize().is_ok_and(|c| c == target) {
            bail!("refusing to overwrite the input {} with the output; choose another -o", input.display());
        }
    }
    Ok(())
}

fn bytes_bar(len: u64, path: &Path, verb: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("{verb} {}", path.display()));
    bar
}

fn spinner(path: &Path, verb: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})").expect("static template"));
    bar.set_message(format!("{verb} {}", path.display()));
    bar
}

/// A bar over `len` items (chunks, files) for the multi-file tools; hidden for fewer than
/// `min` items or when stderr is not a terminal.
pub fn items_bar(len: usize, min: usize, message: &str) -> ProgressBar {
    if len < min {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_by_another_name_is_refused() {
        let dir = std::env::temp_dir().join(format!("ddsp-io-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let input = dir.join("in.csv");
        std::fs::write(&input, "x").unwrap();
        let sneaky = dir.join("sub").join("..").join("in.csv");
        let err = refuse_to_overwrite_inputs(&[&input], &sneaky).unwrap_err().to_string();
        assert!(err.contains("refusing to overwrite the input"), "{err}");
        refuse_to_overwrite_inputs(&[&input], &dir.join("out.csv")).unwrap();
        let err = format!("{:#}", refuse_to_overwrite_inputs(&[&input], &dir.join("missing/out.csv")).unwrap_err());
        assert!(err.contains("does not exist"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn npz_round_trip_through_the_tool_writer() {
        let dir = std::env::temp_dir().join(format!("ddsp-io-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = Envelope::silent(250.0, 16000.0, 5, 4, 3, 110.0);
        env.harmonic_amps.iter_mut().enumerate().for_each(|(j, a)| *a = j as f32 * 0.01);
        let path = dir.join("x.NPZ");
        write_envelope(&env, &path).unwrap();
        assert_eq!(read_envelope(&path).unwrap(), env);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
