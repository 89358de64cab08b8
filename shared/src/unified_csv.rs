//! The unified CSV (SPEC §2, normative text in `docs/CSV_FORMAT.md`): reader and writer.
//!
//! ```text
//! # frame_rate=250.57,sample_rate=44100
//! frame_index,f0_hz,component_type,component_index,frequency,value
//! 0,203.77,harmonic,0,203.77,0.000577
//! 0,203.77,harmonic,1,407.53,0.006631
//! 0,203.77,noise_band,0,123.08,0.0012
//! ```
//!
//! Reading streams through the text once, straight into an [`Envelope`]; any problem is a
//! [`CsvError`] naming the file, line, column and what was expected, and no envelope (a file is
//! never half loaded). Writing produces the layout the original exporter writes, with numbers
//! that read back exactly.

mod error;
mod reader;
mod writer;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

pub use error::{CsvError, Problem};
pub use reader::{read_from, COLUMNS, MAX_COMPONENT_INDEX, MAX_FRAME_INDEX, MAX_LINE_BYTES};
pub use writer::write_to;

use crate::atomic_file::write_atomically;
use crate::envelope::Envelope;

/// Read buffer size: large enough that lines rarely straddle two fills.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Reads the unified CSV at `path`; errors name the file.
pub fn read_path(path: &Path) -> Result<Envelope, CsvError> {
    let file = File::open(path).map_err(|err| CsvError::from(err).with_path(path))?;
    read_from(BufReader::with_capacity(READ_BUFFER_BYTES, file)).map_err(|err| err.with_path(path))
}

/// Reads a unified CSV held in memory.
pub fn parse_str(text: &str) -> Result<Envelope, CsvError> {
    read_from(text.as_bytes())
}

/// Writes `env` to `path` atomically (temporary file, then rename): on any error the file that
/// was at `path` is untouched and no partial file is left.
pub fn write_path(env: &Envelope, path: &Path) -> Result<(), CsvError> {
    if let Err(problem) = writer::check_writable(env) {
        return Err(CsvError::whole_file(Problem::InvalidEnvelope(problem)).with_path(path));
    }
    write_atomically(path, |w| write_to(env, w.by_ref()))
        .map_err(|err: io::Error| CsvError::whole_file(Problem::Write(err)).with_path(path))
}

/// The text [`write_to`] produces for `env`.
pub fn to_string(env: &Envelope) -> io::Result<String> {
    let mut bytes = Vec::new();
    write_to(env, &mut bytes)?;
    Ok(String::from_utf8(bytes).expect("the writer writes UTF-8 only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "# frame_rate=250.57,sample_rate=44100\n\
        frame_index,f0_hz,component_type,component_index,frequency,value\n\
        0,203.77,harmonic,0,203.77,0.000577\n\
        0,203.77,harmonic,1,407.53,0.006631\n\
        0,203.77,noise_band,0,123.08,0.001200\n\
        0,203.77,noise_band,1,246.16,0.000900\n\
        4,205.1,harmonic,0,205.1,0.0012\n\
        4,205.1,harmonic,1,410.2,0.0031\n\
        4,205.1,noise_band,0,123.08,0.0011\n\
        4,205.1,noise_band,1,246.16,0.0008\n";

    fn message(text: &str) -> String {
        parse_str(text).expect_err("must be rejected").to_string()
    }

    /// The seed with line `line_no` (1-based) replaced.
    fn seed_with_line(line_no: usize, replacement: &str) -> String {
        let mut lines: Vec<&str> = SEED.lines().collect();
        lines[line_no - 1] = replacement;
        lines.join("\n") + "\n"
    }

    #[test]
    fn reads_the_seed_layout() {
        let env = parse_str(SEED).unwrap();
        env.validate().unwrap();
        assert_eq!(env.frame_rate_hz, 250.57);
        assert_eq!(env.sample_rate_hz, 44100.0);
        assert_eq!((env.harmonic_count, env.noise_band_count), (2, 2));
        assert_eq!(env.frame_indices, vec![0, 4]);
        assert_eq!(env.f0_hz, vec![203.77, 205.1]);
        assert_eq!(env.harmonic_freqs(0), &[203.77, 407.53]);
        assert_eq!(env.harmonic_amps(1), &[0.0012, 0.0031]);
        assert_eq!(env.band_centres(1), &[123.08, 246.16]);
        assert_eq!(env.band_mags(0), &[0.0012, 0.0009]);
        // Skipped indices keep their time: frame index 4 at a fractional frame rate.
        approx::assert_relative_eq!(env.frame_time_s(1), 4.0 / 250.57);
    }

    #[test]
    fn tolerates_bom_crlf_spaces_and_blank_lines_and_keeps_extra_metadata_in_order() {
        let text = "\u{feff}#  frame_rate = 250.57 , zeta=1, sample_rate=44100,alpha = x=y ,\r\n\
            \r\n\
            frame_index, f0_hz ,component_type,component_index,frequency,value\r\n\
            0, 100 ,harmonic,0,100,0.5\r\n\
            \r\n\
            1,100,harmonic,0,100,0.25";
        let env = parse_str(text).unwrap();
        assert_eq!(env.extra_metadata, vec![("zeta".into(), "1".into()), ("alpha".into(), "x=y".into())]);
        assert_eq!(env.harmonic_amps, vec![0.5, 0.25]);
        assert_eq!(env.noise_band_count, 0);
    }

    #[test]
    fn columns_may_come_in_any_order_and_unknown_columns_are_ignored() {
        let text = "# frame_rate=100,sample_rate=16000\n\
            value,frequency,comment,component_index,component_type,f0_hz,frame_index\n\
            0.5,220,hello,0,harmonic,220,3\n";
        let env = parse_str(text).unwrap();
        assert_eq!(env.frame_indices, vec![3]);
        assert_eq!(env.harmonic_freqs_hz, vec![220.0]);
        assert_eq!(env.harmonic_amps, vec![0.5]);
    }

    #[test]
    fn missing_components_are_silent_at_the_documented_frequencies() {
        let text = "# frame_rate=100,sample_rate=16000\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            0,100,harmonic,0,101,0.5\n\
            0,100,noise_band,1,500,0.1\n\
            1,110,harmonic,2,333,0.2\n\
            1,110,noise_band,0,50,0.3\n\
            9,120,harmonic,0,120,0.1\n\
            9,120,noise_band,1,520,0.1\n\
            9,120,noise_band,3,900,0.1\n";
        let env = parse_str(text).unwrap();
        env.validate().unwrap();
        assert_eq!((env.harmonic_count, env.noise_band_count), (3, 4));
        // Missing harmonic k: amplitude 0 at (k + 1) * f0.
        assert_eq!(env.harmonic_freqs(0), &[101.0, 200.0, 300.0]);
        assert_eq!(env.harmonic_amps(0), &[0.5, 0.0, 0.0]);
        assert_eq!(env.harmonic_freqs(1), &[110.0, 220.0, 333.0]);
        // Missing band: magnitude 0 at its centre in the nearest frame carrying it.
        assert_eq!(env.band_centres(0), &[50.0, 500.0, 8000.0 * 2.0 / 3.0, 900.0]);
        assert_eq!(env.band_centres(1), &[50.0, 500.0, 8000.0 * 2.0 / 3.0, 900.0]);
        assert_eq!(env.band_centres(2), &[50.0, 520.0, 8000.0 * 2.0 / 3.0, 900.0]);
        assert_eq!(env.band_mags(1), &[0.3, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_missing_harmonic_of_an_absurd_f0_stays_finite() {
        let text = "# frame_rate=100,sample_rate=16000\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            0,3e38,harmonic,1,1,0.5\n";
        let env = parse_str(text).unwrap();
        env.validate().unwrap();
        assert_eq!(env.harmonic_freqs(0), &[3e38, 1.0]);
        let text = text.replace(",1,1,", ",3,1,");
        assert_eq!(parse_str(&text).unwrap().harmonic_freqs(0)[1], f32::MAX);
    }

    #[test]
    fn an_absurd_sample_rate_is_refused_naming_the_limit() {
        // Found by the fuzz target: the linear spread of 4e100 Hz overflowed an f32. Rates are
        // now bounded where line 1 is read.
        let text = "# frame_rate=250,sample_rate=4E100\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            0,100,noise_band,2,43,0.5\n";
        let err = parse_str(text).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("`sample_rate=4E100` is out of range"), "{err}");
        assert!(err.contains("1000 to 768000 Hz"), "{err}");
        let text = text.replace("4E100", "768000");
        let env = parse_str(&text).unwrap();
        env.validate().unwrap();
        assert_eq!(env.band_centres(0), &[0.0, 192_000.0, 43.0]);
    }

    #[test]
    fn a_frame_later_than_a_day_is_refused_at_its_line() {
        let text = "# frame_rate=250,sample_rate=16000\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            0,100,harmonic,0,100,0.5\n\
            21600001,100,harmonic,0,100,0.5\n";
        let err = parse_str(text).unwrap_err().to_string();
        assert!(err.contains("line 4") && err.contains("86400 s"), "{err}");
        let ok = text.replace("21600001", "21600000");
        assert_eq!(parse_str(&ok).unwrap().frame_count(), 2);
    }

    #[test]
    fn missing_band_takes_the_centre_of_the_nearest_frame_by_index() {
        let text = "# frame_rate=100,sample_rate=16000\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            0,100,noise_band,0,10,0.1\n\
            7,100,noise_band,1,1,0.1\n\
            8,100,noise_band,0,80,0.1\n";
        let env = parse_str(text).unwrap();
        assert_eq!(env.band_centres(1)[0], 80.0, "frame 7 is nearer frame 8 than frame 0");
    }

    #[test]
    fn write_then_read_gives_the_same_envelope() {
        let mut env = parse_str(SEED).unwrap();
        env.extra_metadata.push(("source".into(), "violin_phrase_44k.wav".into()));
        env.harmonic_amps[1] = 1.0e-30;
        env.band_mags[2] = f32::MAX;
        env.harmonic_freqs_hz[3] = 1.0 / 3.0;
        let text = to_string(&env).unwrap();
        assert!(text.starts_with(
            "# frame_rate=250.57,sample_rate=44100,source=violin_phrase_44k.wav\n\
             frame_index,f0_hz,component_type,component_index,frequency,value\n\
             0,203.77,harmonic,0,203.77,0.000577\n"
        ));
        assert_eq!(parse_str(&text).unwrap(), env);
    }

    #[test]
    fn writer_refuses_envelopes_that_would_not_read_back() {
        let mut env = parse_str(SEED).unwrap();
        env.extra_metadata.push(("frame_rate".into(), "1".into()));
        assert!(to_string(&env).is_err());
        let mut env = parse_str(SEED).unwrap();
        env.harmonic_amps[0] = f32::NAN;
        assert!(to_string(&env).is_err());
        let empty = Envelope::silent(100.0, 16000.0, 0, 2, 2, 100.0);
        assert!(to_string(&empty).is_err());
    }

    #[test]
    fn write_path_replaces_atomically_and_read_path_names_the_file() {
        let dir = std::env::temp_dir().join(format!("ddsp-csv-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed.csv");
        let env = parse_str(SEED).unwrap();
        write_path(&env, &path).unwrap();
        assert_eq!(read_path(&path).unwrap(), env);

        let mut bad = env.clone();
        bad.f0_hz[0] = -1.0;
        let err = write_path(&bad, &path).unwrap_err().to_string();
        assert!(err.contains("seed.csv") && err.contains("cannot write"), "{err}");
        assert_eq!(read_path(&path).unwrap(), env, "the old file must survive a failed write");

        std::fs::write(&path, seed_with_line(5, "0,203.77,harmonic,1,407.53,abc")).unwrap();
        let err = read_path(&path).unwrap_err().to_string();
        assert!(err.ends_with(r#"seed.csv: line 5, column 6 (value): expected a number, found "abc""#), "{err}");
        let missing = dir.join("absent.csv");
        assert!(read_path(&missing).unwrap_err().to_string().contains("absent.csv"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // One test per malformed-input rule of docs/CSV_FORMAT.md, each checking the exact wording.

    #[test]
    fn rejects_a_missing_or_malformed_metadata_line() {
        assert_eq!(
            message(&SEED.lines().skip(1).collect::<Vec<_>>().join("\n")),
            "line 1: expected the metadata line `# frame_rate=<Hz>,sample_rate=<Hz>`, found \
             \"frame_index,f0_hz,component_type,component_index,frequency,value\""
        );
        assert_eq!(
            message(""),
            "line 1: expected the metadata line `# frame_rate=<Hz>,sample_rate=<Hz>`, found end of file"
        );
        assert_eq!(
            message(&seed_with_line(1, "# frame_rate=250.57,sample_rate")),
            "line 1: expected `key=value` in the metadata line, found \"sample_rate\""
        );
        assert_eq!(
            message(&seed_with_line(1, "# frame_rate=250,frame_rate=250,sample_rate=44100")),
            "line 1: the metadata key `frame_rate` appears twice"
        );
    }

    #[test]
    fn rejects_missing_or_bad_rates() {
        assert_eq!(
            message(&seed_with_line(1, "# sample_rate=44100")),
            "line 1: the metadata line lacks `frame_rate` (expected `# frame_rate=<Hz>,sample_rate=<Hz>`)"
        );
        assert_eq!(
            message(&seed_with_line(1, "# frame_rate=250.57")),
            "line 1: the metadata line lacks `sample_rate` (expected `# frame_rate=<Hz>,sample_rate=<Hz>`)"
        );
        assert_eq!(
            message(&seed_with_line(1, "# frame_rate=0,sample_rate=44100")),
            "line 1: expected `frame_rate` to be a positive number, found \"0\""
        );
        assert_eq!(
            message(&seed_with_line(1, "# frame_rate=250,sample_rate=fast")),
            "line 1: expected `sample_rate` to be a positive number, found \"fast\""
        );
    }

    #[test]
    fn rejects_a_missing_header_or_column() {
        assert_eq!(
            message("# frame_rate=250,sample_rate=44100\n"),
            "line 2: expected the header `frame_index,f0_hz,component_type,component_index,frequency,value`, \
             found end of file"
        );
        assert_eq!(
            message(&seed_with_line(2, "0,203.77,harmonic,0,203.77,0.000577")),
            "line 2: expected the header `frame_index,f0_hz,component_type,component_index,frequency,value`, \
             found \"0,203.77,harmonic,0,203.77,0.000577\""
        );
        assert_eq!(
            message(&seed_with_line(2, "frame_index,f0_hz,component_type,component_index,frequency")),
            "line 2: the header lacks the column `value`"
        );
        assert_eq!(
            message(&seed_with_line(2, "frame_index,f0_hz,component_type,component_index,frequency,value,value")),
            "line 2: the header names the column `value` twice"
        );
    }

    #[test]
    fn rejects_rows_with_the_wrong_number_of_fields() {
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,203.77")),
            "line 4: expected 6 comma-separated fields, found 5"
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,203.77,1,2")),
            "line 4: expected 6 comma-separated fields, found 7"
        );
    }

    #[test]
    fn rejects_an_unknown_component_type() {
        assert_eq!(
            message(&seed_with_line(6, "0,203.77,noise,0,123.08,0.0012")),
            "line 6, column 3 (component_type): expected `harmonic` or `noise_band`, found \"noise\""
        );
    }

    #[test]
    fn rejects_numbers_that_do_not_parse_and_non_finite_or_negative_values() {
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,2o3.77,0.000577")),
            "line 4, column 5 (frequency): expected a number, found \"2o3.77\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,203.77,")),
            "line 4, column 6 (value): expected a number, found \"\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,zero,203.77,0.1")),
            "line 4, column 4 (component_index): expected a non-negative whole number, found \"zero\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0.5,203.77,harmonic,0,203.77,0.1")),
            "line 4, column 1 (frame_index): expected a non-negative whole number, found \"0.5\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,203.77,NaN")),
            "line 4, column 6 (value): expected a finite number, found \"NaN\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,inf,harmonic,0,203.77,0.1")),
            "line 4, column 2 (f0_hz): expected a finite number, found \"inf\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,1e39,0.1")),
            "line 4, column 5 (frequency): expected a finite number, found \"1e39\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,-203.77,0.1")),
            "line 4, column 5 (frequency): expected a non-negative number, found \"-203.77\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,0,203.77,-0.1")),
            "line 4, column 6 (value): expected a non-negative number, found \"-0.1\""
        );
    }

    #[test]
    fn rejects_frame_indices_going_backwards() {
        assert_eq!(
            message(&(SEED.to_owned() + "3,200,harmonic,0,200,0.1\n")),
            "line 11, column 1 (frame_index): frame index 3 follows frame index 4; frame indices must rise"
        );
    }

    #[test]
    fn rejects_duplicate_components() {
        assert_eq!(
            message(&seed_with_line(5, "0,203.77,harmonic,0,407.53,0.006631")),
            "line 5, column 4 (component_index): frame 0 already has harmonic 0 (duplicate row)"
        );
        assert_eq!(
            message(&(SEED.to_owned() + "4,205.1,noise_band,1,246.16,0.0008\n")),
            "line 11, column 4 (component_index): frame 4 already has noise band 1 (duplicate row)"
        );
    }

    #[test]
    fn rejects_f0_that_differs_inside_a_frame() {
        assert_eq!(
            message(&seed_with_line(5, "0,203.78,harmonic,1,407.53,0.006631")),
            "line 5, column 2 (f0_hz): f0_hz 203.78 differs from 203.77 given earlier in frame 0"
        );
    }

    #[test]
    fn rejects_a_file_without_frames() {
        let header_only = SEED.lines().take(2).collect::<Vec<_>>().join("\n") + "\n\n";
        assert_eq!(message(&header_only), "the file has no frames (no data rows after the header)");
    }

    #[test]
    fn rejects_absurd_component_indices_without_allocating_for_them() {
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,4096,203.77,0.1")),
            "line 4, column 4 (component_index): expected an index of at most 4095, found \"4096\""
        );
        assert_eq!(
            message(&seed_with_line(4, "0,203.77,harmonic,99999999999999999999999,203.77,0.1")),
            "line 4, column 4 (component_index): expected an index of at most 4095, found \"99999999999999999999999\""
        );
        assert_eq!(
            message(&seed_with_line(4, "1e300,203.77,harmonic,0,203.77,0.1")),
            "line 4, column 1 (frame_index): expected an index of at most 999999999999999, found \"1e300\""
        );
    }

    #[test]
    fn rejects_files_too_sparse_to_expand() {
        // Many frames with one row each, then one frame that uses the highest index: the dense
        // arrays would hold ~4000 values per row.
        let mut text = String::from(
            "# frame_rate=100,sample_rate=16000\nframe_index,f0_hz,component_type,component_index,frequency,value\n",
        );
        for frame in 0..2000 {
            text.push_str(&format!("{frame},100,harmonic,0,100,0.1\n"));
        }
        text.push_str("2000,100,harmonic,4095,100,0.1\n");
        assert!(
            message(&text).starts_with("line 2003: 2001 frames x 4096 components would need"),
            "{}",
            message(&text)
        );
    }

    #[test]
    fn rejects_overlong_lines_without_reading_them_whole() {
        let text = format!("# frame_rate=100,sample_rate=16000,junk={}\n", "x".repeat(MAX_LINE_BYTES));
        assert_eq!(message(&text), format!("line 1: line is longer than {MAX_LINE_BYTES} bytes"));
    }

    #[test]
    fn accepts_whole_numbers_written_as_floats_for_indices() {
        let text = "# frame_rate=100,sample_rate=16000\n\
            frame_index,f0_hz,component_type,component_index,frequency,value\n\
            2.0,100,harmonic,1.0,200,0.5\n";
        let env = parse_str(text).unwrap();
        assert_eq!(env.frame_indices, vec![2]);
        assert_eq!(env.harmonic_count, 2);
    }
}
