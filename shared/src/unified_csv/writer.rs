//! Writer of the unified CSV, in the layout the original Python exporter writes and the
//! original SuperCollider app reads: metadata line, header, then per frame its harmonics and
//! then its noise bands, each in index order.
//!
//! Numbers are printed with Rust's shortest round-trip formatting (`{}` of `f32`/`f64`: no
//! exponent, the fewest digits that read back to the same value), so writing and reading gives
//! back exactly the same envelope.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::reader::COLUMNS;
use crate::envelope::Envelope;

/// Bytes gathered before each call to the underlying writer, so that an unbuffered writer
/// (a `File`) is not called once per row.
const CHUNK_BYTES: usize = 64 * 1024;

/// Writes `env` as a unified CSV to `w`.
///
/// Refuses (with `InvalidInput`, before writing anything) an envelope that could not be read
/// back: one that breaks [`Envelope::validate`], has no frames or no components, or carries
/// extra metadata that the metadata line cannot hold (a key that is empty or repeated, is `frame_rate` or
/// `sample_rate`, or contains `=`; a key or value with a comma or a line feed, or with spaces at
/// either end).
pub fn write_to<W: Write>(env: &Envelope, mut w: W) -> io::Result<()> {
    check_writable(env).map_err(|problem| io::Error::new(io::ErrorKind::InvalidInput, problem))?;

    let mut text = String::with_capacity(CHUNK_BYTES + 256);
    write!(text, "# frame_rate={},sample_rate={}", env.frame_rate_hz, env.sample_rate_hz).expect(FMT);
    for (key, value) in &env.extra_metadata {
        write!(text, ",{key}={value}").expect(FMT);
    }
    text.push('\n');
    text.push_str(&COLUMNS.join(","));
    text.push('\n');

    for frame in 0..env.frame_count() {
        let frame_index = env.frame_indices[frame];
        let f0_hz = env.f0_hz[frame];
        for (k, (freq, amp)) in env.harmonic_freqs(frame).iter().zip(env.harmonic_amps(frame)).enumerate() {
            writeln!(text, "{frame_index},{f0_hz},harmonic,{k},{freq},{amp}").expect(FMT);
        }
        for (b, (centre, mag)) in env.band_centres(frame).iter().zip(env.band_mags(frame)).enumerate() {
            writeln!(text, "{frame_index},{f0_hz},noise_band,{b},{centre},{mag}").expect(FMT);
        }
        if text.len() >= CHUNK_BYTES {
            w.write_all(text.as_bytes())?;
            text.clear();
        }
    }
    w.write_all(text.as_bytes())?;
    w.flush()
}

/// Formatting into a `String` cannot fail.
const FMT: &str = "formatting into a String cannot fail";

/// Why `env` cannot be written so that it reads back the same, if it cannot.
pub(crate) fn check_writable(env: &Envelope) -> Result<(), String> {
    env.validate().map_err(|e| e.to_string())?;
    if env.frame_count() == 0 {
        return Err("the envelope has no frames".to_owned());
    }
    if env.harmonic_count + env.noise_band_count == 0 {
        return Err("the envelope has neither harmonics nor noise bands, so its frames would have no rows".to_owned());
    }
    let unwritable = |text: &str| text.contains([',', '\n']) || text.trim() != text;
    for (i, (key, value)) in env.extra_metadata.iter().enumerate() {
        if env.extra_metadata[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(format!("the metadata key {key:?} appears twice"));
        }
        if key.is_empty() || key.contains('=') || unwritable(key) || key == "frame_rate" || key == "sample_rate" {
            return Err(format!("the metadata key {key:?} cannot be written in the metadata line"));
        }
        if unwritable(value) {
            return Err(format!("the value {value:?} of metadata key {key:?} cannot be written in the metadata line"));
        }
    }
    Ok(())
}
