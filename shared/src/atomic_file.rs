//! Writing files so that the user never loses what was there before.
//!
//! Everything the project writes (CSV, WAV, npz, checkpoints) goes to a temporary file in the
//! same folder first and is renamed over the target only once it is complete and flushed. A
//! crash, a full disk or a bad input half way through leaves the old file untouched and no
//! half-written file behind.
//!
//! What is at the target decides how it is written ([`destination`]):
//! - nothing, or a regular file: the atomic replace; a file that was there keeps its
//!   permissions (and, where the process may set it, its owner),
//! - a read-only file: refused, and left as it is,
//! - a symbolic link: written through, so the link stays and the file it points to is replaced,
//! - a device, FIFO or socket (`/dev/null`, a named pipe): written in place, never replaced by
//!   a regular file,
//! - a folder, or `-` (standard output, which these binary formats cannot stream to): refused.
//!
//! Temporary files never outlive what made them: the ones being written are listed, so a
//! Ctrl-C or SIGTERM handler can remove them ([`remove_pending_temporaries`]) before the
//! process exits, and one left by a process that died (`kill -9`, a power cut) is removed the
//! next time the same target is written ([`remove_stale_temporaries`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files this process is writing right now.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Lists `tmp` as being written; [`Pending::drop`] takes it off the list.
struct Pending(PathBuf);

impl Pending {
    fn new(tmp: &Path) -> Self {
        if let Ok(mut pending) = PENDING.lock() {
            pending.push(tmp.to_path_buf());
        }
        Self(tmp.to_path_buf())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut pending) = PENDING.lock() {
            pending.retain(|p| p != &self.0);
        }
    }
}

/// Removes every temporary file this process is writing. For the handler of Ctrl-C and
/// SIGTERM, just before the process exits: the targets keep what they had.
pub fn remove_pending_temporaries() {
    if let Ok(pending) = PENDING.lock() {
        for tmp in pending.iter() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Removes the temporaries of `target` (`.NAME.PID.tmp` beside it) left by processes that no
/// longer run. Where it cannot tell whether a process runs (no `/proc`), it removes nothing.
pub fn remove_stale_temporaries(target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(folder) else { return };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.strip_suffix(".tmp").and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

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

/// How a target is written.
#[derive(Debug)]
pub enum Destination {
    /// Write a temporary file beside `path` and rename it over `path`; `previous` is the
    /// regular file that was there, whose permissions the new one takes.
    Replace { path: PathBuf, previous: Option<fs::Metadata> },
    /// Write straight into `path`, a device, FIFO or socket that must stay what it is.
    InPlace { path: PathBuf },
}

/// Decides how `target` is written (see the module documentation). Errors say what is at
/// the target and why it is not written; callers add the path.
pub fn destination(target: &Path) -> io::Result<Destination> {
    if target.as_os_str() == "-" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "`-` (standard output) is not supported for this output: give a file name",
        ));
    }
    let link = match fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Destination::Replace { path: target.to_path_buf(), previous: None })
        }
        Err(e) => return Err(e),
    };
    let (path, meta) = if link.file_type().is_symlink() {
        // Write through the link: the file it points to (which may not exist yet) is replaced.
        let path = match fs::canonicalize(target) {
            Ok(resolved) => resolved,
            Err(_) => {
                let pointed = fs::read_link(target)?;
                target.parent().map_or_else(|| pointed.clone(), |parent| parent.join(&pointed))
            }
        };
        let meta = match fs::metadata(&path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        (path, meta)
    } else {
        (target.to_path_buf(), Some(link))
    };
    match meta {
        Some(meta) if meta.is_dir() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "that is a folder; give a file name inside it"))
        }
        Some(meta) if !meta.is_file() => Ok(Destination::InPlace { path }),
        Some(meta) if meta.permissions().readonly() => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only, so it was left as it is (make it writable or choose another name)",
        )),
        previous => Ok(Destination::Replace { path, previous }),
    }
}

/// Gives the new file at `tmp` the permissions (and, where allowed, the owner) of the file it
/// replaces.
fn keep_attributes(tmp: &Path, previous: &fs::Metadata) -> io::Result<()> {
    fs::set_permissions(tmp, previous.permissions())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Only a privileged process may give a file away; for others this changes nothing.
        let _ = std::os::unix::fs::chown(tmp, Some(previous.uid()), Some(previous.gid()));
    }
    Ok(())
}

/// Writes `target` atomically: `write` fills a buffered writer on a temporary file; on success
/// the file is flushed, synced and renamed over `target`; on any error the temporary file is
/// removed and `target` is left as it was. Devices and FIFOs are written in place.
pub fn write_atomically<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&mut BufWriter<File>) -> Result<(), E>,
{
    let (path, previous) = match destination(target)? {
        Destination::InPlace { path } => {
            let mut writer = BufWriter::new(File::options().write(true).open(&path)?);
            write(&mut writer)?;
            writer.flush()?;
            return Ok(());
        }
        Destination::Replace { path, previous } => (path, previous),
    };
    remove_stale_temporaries(&path);
    let tmp = temporary_path_for(&path);
    let _pending = Pending::new(&tmp);
    let result = (|| {
        let mut writer = BufWriter::new(File::create(&tmp)?);
        write(&mut writer)?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        if let Some(previous) = &previous {
            keep_attributes(&tmp, previous)?;
        }
        fs::rename(&tmp, &path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Like [`write_atomically`] for writers that need a path rather than a stream (hound's
/// `WavWriter::create`, zip archives): `write` receives the path to create (a temporary one,
/// or the device itself for a device or FIFO).
pub fn write_atomically_via_path<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&Path) -> Result<(), E>,
{
    let (path, previous) = match destination(target)? {
        Destination::InPlace { path } => return write(&path),
        Destination::Replace { path, previous } => (path, previous),
    };
    remove_stale_temporaries(&path);
    let tmp = temporary_path_for(&path);
    let _pending = Pending::new(&tmp);
    let result = write(&tmp).and_then(|()| {
        if let Some(previous) = &previous {
            keep_attributes(&tmp, previous)?;
        }
        fs::rename(&tmp, &path).map_err(E::from)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty folder of its own, removed when the test ends.
    fn scratch_dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("ddsp-atomic-{name}-")).tempdir().unwrap()
    }

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let scratch = scratch_dir("fail");
        let dir = scratch.path();
        let target = dir.join("out.csv");
        fs::write(&target, "old contents").unwrap();
        let result: Result<(), io::Error> = write_atomically(&target, |w| {
            w.write_all(b"half of the new")?;
            Err(io::Error::other("bad input on line 7"))
        });
        assert!(result.is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "old contents");
        assert_eq!(fs::read_dir(dir).unwrap().count(), 1, "temporary file left behind");
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let scratch = scratch_dir("ok");
        let dir = scratch.path();
        let target = dir.join("out.csv");
        fs::write(&target, "old").unwrap();
        write_atomically::<io::Error, _>(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::read_dir(dir).unwrap().count(), 1);
    }

    fn write_text(target: &Path, text: &str) -> io::Result<()> {
        write_atomically::<io::Error, _>(target, |w| w.write_all(text.as_bytes()))
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions_and_a_read_only_one_is_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = scratch_dir("modes");
        let dir = scratch.path();
        let shared = dir.join("shared.csv");
        fs::write(&shared, "old").unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o640)).unwrap();
        write_text(&shared, "new").unwrap();
        assert_eq!(fs::read_to_string(&shared).unwrap(), "new");
        assert_eq!(fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o640);

        let locked = dir.join("locked.wav");
        fs::write(&locked, "keep me").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
        let error = write_text(&locked, "new").unwrap_err();
        assert!(error.to_string().contains("read-only"), "{error}");
        assert_eq!(fs::read_to_string(&locked).unwrap(), "keep me");
        assert_eq!(fs::metadata(&locked).unwrap().permissions().mode() & 0o777, 0o444);
        assert_eq!(fs::read_dir(dir).unwrap().count(), 2, "temporary file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_written_through_and_stays_a_link() {
        let scratch = scratch_dir("link");
        let dir = scratch.path();
        let real = dir.join("take_03.csv");
        fs::write(&real, "old").unwrap();
        let link = dir.join("latest.csv");
        std::os::unix::fs::symlink("take_03.csv", &link).unwrap();
        write_text(&link, "new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        // A dangling link: the file it names is created.
        let dangling = dir.join("next.csv");
        std::os::unix::fs::symlink("take_04.csv", &dangling).unwrap();
        write_text(&dangling, "fresh").unwrap();
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(dir.join("take_04.csv")).unwrap(), "fresh");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_written_in_place_never_replaced() {
        use std::os::unix::fs::FileTypeExt;
        write_text(Path::new("/dev/null"), "discarded").unwrap();
        assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        let via_path: io::Result<()> =
            write_atomically_via_path(Path::new("/dev/null"), |path| fs::write(path, "discarded"));
        via_path.unwrap();
        assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());

        let scratch = scratch_dir("fifo");
        let dir = scratch.path();
        let fifo = dir.join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_text(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn temporaries_of_dead_processes_are_cleaned_up_and_live_ones_kept() {
        let scratch = scratch_dir("stale");
        let dir = scratch.path();
        let target = dir.join("checkpoint.bin");
        // Process ids on Linux stay below 2^22, so 999999999 never runs.
        let dead = dir.join(".checkpoint.bin.999999999.tmp");
        // Process 1 (init) always runs.
        let alive = dir.join(".checkpoint.bin.1.tmp");
        let other = dir.join(".notes.txt.999999999.tmp");
        for path in [&dead, &alive, &other] {
            fs::write(path, "half a file").unwrap();
        }
        write_text(&target, "new").unwrap();
        assert!(!dead.exists(), "a dead process's temporary stays");
        assert!(alive.exists(), "a running process's temporary was removed");
        assert!(other.exists(), "another target's temporary was removed");
    }

    #[test]
    fn temporaries_are_listed_for_the_interrupt_handler_only_while_written() {
        let scratch = scratch_dir("pending");
        let dir = scratch.path();
        let target = dir.join("long.wav");
        let result: io::Result<()> = write_atomically(&target, |w| {
            w.write_all(b"part")?;
            w.flush()?;
            let tmp = temporary_path_for(&target);
            assert!(tmp.exists());
            // What the Ctrl-C handler removes (other tests write beside this one, so it is not
            // called here: `ddsp render`'s interrupt test calls it through SIGINT).
            assert!(PENDING.lock().unwrap().contains(&tmp));
            Err(io::Error::other("interrupted"))
        });
        assert!(result.is_err());
        assert!(PENDING.lock().unwrap().iter().all(|p| !p.starts_with(dir)), "still listed after the write");
        assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
    }

    #[test]
    fn standard_output_and_folders_are_refused_with_a_reason() {
        let error = write_text(Path::new("-"), "x").unwrap_err();
        assert!(error.to_string().contains("standard output"), "{error}");
        assert!(!Path::new("-").exists());
        let scratch = scratch_dir("folder");
        let dir = scratch.path();
        let error = write_text(dir, "x").unwrap_err();
        assert!(error.to_string().contains("folder"), "{error}");
        assert!(dir.is_dir());
    }
}
