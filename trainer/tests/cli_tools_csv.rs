//! `ddsp csv`: numpy-written archives (SPEC §3) exported to the unified CSV (SPEC §2).

mod cli_tools_support;

use approx::assert_relative_eq;
use cli_tools_support::*;

#[test]
fn export_of_a_numpy_archive_places_each_frame_at_its_time_with_its_values() {
    let scratch = scratch("csv-export");
    let dir = scratch.path();
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    ddsp_ok(dir, &["csv", fixture.to_str().unwrap(), "-o", "chunk_00.csv"]);
    let text = std::fs::read_to_string(dir.join("chunk_00.csv")).unwrap();
    assert!(text.starts_with("# frame_rate=250,sample_rate=16000\n"), "{}", &text[..80]);
    let env = read_csv(&dir.join("chunk_00.csv"));
    assert_eq!(env.frame_indices, vec![0, 1, 2, 3]);
    assert_eq!(env.f0_hz, vec![220.0, 230.0, 240.0, 250.0]);
    assert_eq!((env.harmonic_count, env.noise_band_count), (5, 65));
    for i in 0..4 {
        for k in 0..5 {
            // The per-sample glide averages to the frame's own harmonic frequency.
            assert_relative_eq!(env.harmonic_freqs(i)[k], env.f0_hz[i] * (k + 1) as f32, max_relative = 1e-5);
            assert_relative_eq!(env.harmonic_amps(i)[k], 0.5 / (k + 1) as f32, max_relative = 1e-6);
        }
        for b in 0..65 {
            assert_relative_eq!(env.band_mags(i)[b], 0.001 * (b + 1) as f32 * (i + 1) as f32, max_relative = 1e-6);
            assert_relative_eq!(env.band_centres(i)[b], 125.0 * b as f32, max_relative = 1e-6);
        }
    }
}

#[test]
fn full_resolution_writes_one_frame_per_sample_at_the_sample_rate() {
    let scratch = scratch("csv-full");
    let dir = scratch.path();
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    ddsp_ok(dir, &["csv", fixture.to_str().unwrap(), "-o", "full.csv", "--full-resolution"]);
    let env = read_csv(&dir.join("full.csv"));
    assert_eq!(env.frame_rate_hz, 16000.0);
    assert_eq!(env.frame_count(), 256);
    for r in [0usize, 17, 100, 255] {
        assert_relative_eq!(env.frame_time_s(r), r as f64 / 16000.0);
        assert_relative_eq!(env.harmonic_freqs(r)[0], 220.0 + 10.0 * r as f32 / 64.0, max_relative = 1e-6);
    }
}

#[test]
fn frame_step_and_limits_shrink_the_export() {
    let scratch = scratch("csv-limits");
    let dir = scratch.path();
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    let args = [
        "csv",
        fixture.to_str().unwrap(),
        "-o",
        "small.csv",
        "--frame-step",
        "2",
        "--max-harmonics",
        "3",
        "--max-noise-bands",
        "10",
    ];
    ddsp_ok(dir, &args);
    let env = read_csv(&dir.join("small.csv"));
    assert_eq!(env.frame_indices, vec![0, 2]);
    assert_eq!(env.f0_hz, vec![220.0, 240.0]);
    assert_eq!((env.harmonic_count, env.noise_band_count), (3, 10));
}

#[test]
fn several_chunks_are_joined_in_natural_order() {
    let scratch = scratch("csv-order");
    let dir = scratch.path();
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    // Two distinguishable chunk archives written by ddsp itself.
    ddsp_ok(dir, &["modify", fixture.to_str().unwrap(), "-o", "chunk_2.npz", "--fix-pitch", "300"]);
    ddsp_ok(dir, &["modify", fixture.to_str().unwrap(), "-o", "chunk_10.npz", "--fix-pitch", "500"]);
    ddsp_ok(dir, &["csv", "chunk_10.npz", "chunk_2.npz", "-o", "all.csv"]);
    let env = read_csv(&dir.join("all.csv"));
    assert_eq!(env.frame_indices, (0..8).collect::<Vec<u64>>());
    assert_eq!(env.f0_hz, vec![300.0, 300.0, 300.0, 300.0, 500.0, 500.0, 500.0, 500.0]);
}

#[test]
fn archives_written_by_ddsp_read_back_like_numpys() {
    let scratch = scratch("csv-roundtrip");
    let dir = scratch.path();
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    // numpy archive -> ddsp archive (frame resolution) -> CSV must equal numpy archive -> CSV.
    ddsp_ok(dir, &["combine", fixture.to_str().unwrap(), "-o", "copy.npz"]);
    ddsp_ok(dir, &["csv", "copy.npz", "-o", "from_copy.csv"]);
    ddsp_ok(dir, &["csv", fixture.to_str().unwrap(), "-o", "from_numpy.csv"]);
    assert_eq!(read_csv(&dir.join("from_copy.csv")), read_csv(&dir.join("from_numpy.csv")));
    // And the compressed float64 variant numpy wrote reads the same.
    let compressed = npz_fixture("chunk_01_compressed_f64.npz");
    ddsp_ok(dir, &["csv", compressed.to_str().unwrap(), "-o", "from_compressed.csv"]);
    assert_eq!(read_csv(&dir.join("from_compressed.csv")), read_csv(&dir.join("from_numpy.csv")));
}

#[test]
fn a_csv_input_or_an_npz_output_is_refused_with_a_reason() {
    let scratch = scratch("csv-refuse");
    let dir = scratch.path();
    std::fs::write(dir.join("x.csv"), "# frame_rate=250,sample_rate=16000\n").unwrap();
    let err = ddsp_err(dir, &["csv", "x.csv", "-o", "y.csv"]);
    assert!(err.contains("x.csv is not an .npz envelope archive"), "{err}");
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    let err = ddsp_err(dir, &["csv", fixture.to_str().unwrap(), "-o", "y.npz"]);
    assert!(err.contains("writes a unified CSV"), "{err}");
    assert!(!dir.join("y.csv").exists() && !dir.join("y.npz").exists());
}
