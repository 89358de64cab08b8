//! End-to-end: the real `ddsp` binary describing a CSV in the seed's exact layout, and refusing
//! a malformed one with the file, the line and the problem.

use std::path::{Path, PathBuf};

use ddsp_tests::cli::{ddsp, scratch};

/// The seed-layout fixture: 8 frames (indices 0, 4, ..., 28) at 250.57 frames/s, 60 harmonics
/// and 65 bands, f0 around 203.77 Hz (see shared/tests/data/README.md).
fn seed_layout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/data/seed_layout.csv")
}

#[test]
fn describes_a_file_in_the_seed_layout() {
    let path = seed_layout();
    let out = ddsp(&["info", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "frames:       8 (indices 0 to 28, every 4)",
        // (28 + 1) / 250.57 s
        "duration:     0.116 s",
        "frame rate:   250.57 Hz",
        "sample rate:  44100 Hz",
        "harmonics:    60",
        "noise bands:  65",
        "(8 of 8 frames voiced)",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn json_output_is_machine_readable() {
    let path = seed_layout();
    let out = ddsp(&["info", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["frames"], 8);
    assert_eq!(json["frame_index_step"], 4);
    assert_eq!(json["frame_rate_hz"], 250.57);
    assert_eq!(json["sample_rate_hz"], 44100.0);
    assert_eq!(json["harmonic_count"], 60);
    assert_eq!(json["noise_band_count"], 65);
    let (min, max, median) = (
        json["f0_min_hz"].as_f64().unwrap(),
        json["f0_max_hz"].as_f64().unwrap(),
        json["f0_median_hz"].as_f64().unwrap(),
    );
    // The fixture's f0 is 203.77 Hz with a 1.2 % vibrato.
    assert!(min < median && median < max, "{min} {median} {max}");
    assert!(min > 203.77 * 0.985 && max < 203.77 * 1.015, "{min} {max}");
    approx::assert_relative_eq!(json["duration_s"].as_f64().unwrap(), 29.0 / 250.57, max_relative = 1e-9);
}

#[test]
fn extra_metadata_is_listed() {
    let scratch = scratch();
    let dir = scratch.path();
    let text = std::fs::read_to_string(seed_layout()).unwrap();
    let text = text.replacen("sample_rate=44100", "sample_rate=44100,source=violin_phrase_44k.wav", 1);
    let path = dir.join("with_source.csv");
    std::fs::write(&path, text).unwrap();
    let out = ddsp(&["info", path.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("metadata:     source=violin_phrase_44k.wav"));
}

#[test]
fn a_malformed_file_fails_naming_the_file_line_and_problem() {
    let scratch = scratch();
    let dir = scratch.path();
    let text = std::fs::read_to_string(seed_layout()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[11] = "0,203.77,harmonic,9,1834.13,0.0x01";
    let path = dir.join("broken.csv");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = ddsp(&["info", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("broken.csv: line 12, column 6 (value): expected a number, found \"0.0x01\""),
        "stderr: {stderr}"
    );
    let missing = dir.join("absent.csv");
    let out = ddsp(&["info", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.csv"));
}

#[test]
fn silence_analysed_into_a_csv_has_no_voiced_frames() {
    // A second of silence, then a second of a 220 Hz tone: `ddsp analyze` keeps the tracker's
    // f0 in the silent frames but silences their harmonics, and `info` counts only the tone.
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("gap.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for n in 0..32_000 {
        let s = if n < 16_000 { 0.0 } else { 0.5 * (std::f32::consts::TAU * 220.0 * n as f32 / 16_000.0).sin() };
        w.write_sample((s * 32_767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let csv = dir.join("gap.csv");
    let out = ddsp(&["analyze", wav.to_str().unwrap(), "-o", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ddsp(&["info", "--json", csv.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let (voiced, frames) = (json["voiced_frames"].as_u64().unwrap(), json["frames"].as_u64().unwrap());
    // About half the frames: the tone's second, give or take the analysis window at the edge.
    assert!((0.4..=0.55).contains(&(voiced as f64 / frames as f64)), "{voiced} of {frames} frames voiced");
    assert!((json["f0_median_hz"].as_f64().unwrap() - 220.0).abs() < 2.0, "{json}");
}
