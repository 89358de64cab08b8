//! Writing files so that the user never loses what was there before.
//!
//! Everything the project writes (CSV, WAV, npz, checkpoints) goes to a temporary file in the
//! same folder first and is renamed over the target only once it is complete and flushed. A
//! crash, a full disk or a bad input half way through leaves the old file untouched and no
//! half-written file behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary path used while `target` is being written: same folder (so the final rename
/// stays on one file system), hidden, and unique to this process.
pub fn temporary_path_for(target: &Path) -> PathBuf {
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".to_owned());
    let tmp_name = format!(".{file_name}.{}.tmp", std::process::id());
    match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    }
}

/// Writes `target` atomically: `write` fills a buffered writer on a temporary file; on success
/// the file is flushed, synced and renamed over `target`; on any error the temporary file is
/// removed and `target` is left as it was.
pub fn write_atomically<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&mut BufWriter<File>) -> Result<(), E>,
{
    let tmp = temporary_path_for(target);
    let result = (|| {
        let mut writer = BufWriter::new(File::create(&tmp)?);
        write(&mut writer)?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, target)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Like [`write_atomically`] for writers that need a path rather than a stream (hound's
/// `WavWriter::create`, zip archives): `write` receives the temporary path to create.
pub fn write_atomically_via_path<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&Path) -> Result<(), E>,
{
    let tmp = temporary_path_for(target);
    let result = write(&tmp).and_then(|()| fs::rename(&tmp, target).map_err(E::from));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ddsp-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = scratch_dir("fail");
        let target = dir.join("out.csv");
        fs::write(&target, "old contents").unwrap();
        let result: Result<(), io::Error> = write_atomically(&target, |w| {
            w.write_all(b"half of the new")?;
            Err(io::Error::other("bad input on line 7"))
        });
        assert!(result.is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "old contents");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "temporary file left behind");
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = scratch_dir("ok");
        let target = dir.join("out.csv");
        fs::write(&target, "old").unwrap();
        write_atomically::<io::Error, _>(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }
}
