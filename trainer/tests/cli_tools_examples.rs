//! Each envelope tool on real data (the example flute phrase, analysed at DDSP's 16 kHz model
//! rate), checking the property it promises, through the real `ddsp` binary.

mod cli_tools_support;

use approx::assert_relative_eq;
use cli_tools_support::*;
use ddsp_shared::Envelope;

/// The first `seconds` of a 16-bit WAV, as floats.
fn read_wav_seconds(path: &std::path::Path, seconds: f64) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16), "{}", path.display());
    let n = (seconds * f64::from(spec.sample_rate)) as usize;
    reader.samples::<i16>().take(n).map(|s| f32::from(s.unwrap()) / 32768.0).collect()
}

/// Frames `start..end` of `env`, re-indexed from 0 as the exporter writes each chunk.
fn chunk_of(env: &Envelope, start: usize, end: usize) -> Envelope {
    let mut chunk = env.slice_frames(start..end);
    chunk.frame_indices = (0..(end - start) as u64).collect();
    chunk
}

#[test]
fn downsample_keeps_every_kept_frame_at_its_original_time() {
    let scratch = scratch("ex-downsample");
    let dir = scratch.path();
    let input = flute_16k_csv();
    ddsp_ok(
        dir,
        &[
            "downsample",
            input.to_str().unwrap(),
            "-o",
            "light.csv",
            "--frame-step",
            "4",
            "--max-harmonics",
            "20",
            "--max-noise-bands",
            "16",
        ],
    );
    let original = read_csv(&input);
    let light = read_csv(&dir.join("light.csv"));
    assert_eq!(light.frame_rate_hz, original.frame_rate_hz);
    assert_eq!(light.sample_rate_hz, original.sample_rate_hz);
    assert_eq!(light.frame_count(), original.frame_count().div_ceil(4));
    assert_eq!((light.harmonic_count, light.noise_band_count), (20, 16));
    for j in 0..light.frame_count() {
        let i = 4 * j;
        assert_eq!(light.frame_time_s(j), original.frame_time_s(i), "frame {j}");
        assert_eq!(light.f0_hz[j], original.f0_hz[i]);
        assert_eq!(light.harmonic_amps(j), &original.harmonic_amps(i)[..20]);
        assert_eq!(light.band_mags(j), &original.band_mags(i)[..16]);
    }
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&dir.join("light.csv")) * 10 < size(&input), "the light file should be far smaller");
}

#[test]
fn combine_restores_chunks_in_natural_order_with_continuous_indices() {
    let scratch = scratch("ex-combine");
    let dir = scratch.path();
    let original = read_csv(&flute_16k_csv());
    let k = original.frame_count() / 3;
    std::fs::create_dir_all(dir.join("chunks")).unwrap();
    for (name, c) in [("chunk_1.csv", 0), ("chunk_2.csv", 1), ("chunk_10.csv", 2)] {
        ddsp_shared::unified_csv::write_path(&chunk_of(&original, c * k, (c + 1) * k), &dir.join("chunks").join(name))
            .unwrap();
    }
    // Given out of order on the command line, and as a folder: the same, natural, result.
    ddsp_ok(dir, &["combine", "chunks/chunk_10.csv", "chunks/chunk_1.csv", "chunks/chunk_2.csv", "-o", "all.csv"]);
    ddsp_ok(dir, &["combine", "chunks", "-o", "all_from_folder.csv"]);
    let all = read_csv(&dir.join("all.csv"));
    assert_eq!(all, read_csv(&dir.join("all_from_folder.csv")));
    assert_eq!(all.frame_indices, (0..3 * k as u64).collect::<Vec<_>>());
    assert_eq!(all.f0_hz, original.f0_hz[..3 * k]);
    assert_eq!(all.harmonic_amps, original.harmonic_amps[..3 * k * original.harmonic_count]);

    // Downsampled chunks are placed where their frames were.
    for name in ["chunk_1", "chunk_2", "chunk_10"] {
        ddsp_ok(
            dir,
            &["downsample", &format!("chunks/{name}.csv"), "-o", &format!("{name}_light.csv"), "--frame-step", "5"],
        );
    }
    ddsp_ok(dir, &["combine", "chunk_1_light.csv", "chunk_2_light.csv", "chunk_10_light.csv", "-o", "all_light.csv"]);
    let light = read_csv(&dir.join("all_light.csv"));
    for (j, &index) in light.frame_indices.iter().enumerate() {
        let chunk = j / k.div_ceil(5);
        let within = (j % k.div_ceil(5)) * 5;
        assert_eq!(index as usize, chunk * k.div_ceil(5) * 5 + within, "frame {j}");
        assert_eq!(light.f0_hz[j], original.f0_hz[chunk * k + within], "frame {j}");
    }
}

#[test]
fn combine_refuses_chunks_of_different_rates_naming_them() {
    let scratch = scratch("ex-combine-rates");
    let dir = scratch.path();
    let original = read_csv(&flute_16k_csv());
    let mut other = chunk_of(&original, 0, 10);
    ddsp_shared::unified_csv::write_path(&other, &dir.join("chunk_1.csv")).unwrap();
    other.sample_rate_hz = 44100.0;
    ddsp_shared::unified_csv::write_path(&other, &dir.join("chunk_2.csv")).unwrap();
    let err = ddsp_err(dir, &["combine", "chunk_1.csv", "chunk_2.csv", "-o", "all.csv"]);
    assert!(err.contains("chunk_2.csv") && err.contains("chunk_1.csv") && err.contains("sample_rate"), "{err}");
    assert!(!dir.join("all.csv").exists());
}

#[test]
fn enrich_adds_energy_above_8_khz_and_changes_nothing_below() {
    let scratch = scratch("ex-enrich");
    let dir = scratch.path();
    let input = flute_16k_csv();
    ddsp_ok(dir, &["enrich", input.to_str().unwrap(), "-o", "flute_44k.csv", "--sample-rate", "44100"]);
    let original = read_csv(&input);
    let rich = read_csv(&dir.join("flute_44k.csv"));
    assert_eq!(rich.sample_rate_hz, 44100.0);
    assert_eq!(rich.frame_indices, original.frame_indices);
    assert_eq!(rich.f0_hz, original.f0_hz);
    for i in 0..original.frame_count() {
        for k in 0..original.harmonic_count {
            if original.harmonic_freqs(i)[k] < 8000.0 {
                assert_eq!(rich.harmonic_freqs(i)[k], original.harmonic_freqs(i)[k], "frame {i} harmonic {k}");
                assert_eq!(rich.harmonic_amps(i)[k], original.harmonic_amps(i)[k], "frame {i} harmonic {k}");
            }
        }
        for b in 0..original.noise_band_count {
            if original.band_centres(i)[b] <= 8000.0 {
                assert_eq!(rich.band_centres(i)[b], original.band_centres(i)[b]);
                // The same power per hertz at the new rate: magnitudes are a density (SPEC §4).
                let expected = original.band_mags(i)[b] * (44100.0f32 / 16000.0).sqrt();
                assert!((rich.band_mags(i)[b] - expected).abs() <= 1e-6 * expected, "frame {i} band {b}");
            }
        }
    }
    // Rendered at 44.1 kHz: the original has (next to) nothing above 8.5 kHz; the enriched
    // file has about the share of its energy there that the microphone recorded (the same
    // 4 s of examples/flute_phrase_44k.wav), within a factor of 10 either way.
    let before = render(&original, 44100.0);
    let after = render(&rich, 44100.0);
    let share_above = |x: &[f32]| band_energy(x, 44100.0, 8500.0, 22050.0) / band_energy(x, 44100.0, 0.0, 22050.0);
    let recording = read_wav_seconds(&repo_root().join("examples/flute_phrase_44k.wav"), 4.0);
    let (high_before, high_after, high_recorded) = (share_above(&before), share_above(&after), share_above(&recording));
    println!("share above 8.5 kHz: original {high_before:e}, enriched {high_after:e}, recording {high_recorded:e}");
    assert!(high_before < 1e-7, "original above 8.5 kHz: {high_before:e} of the energy");
    assert!(
        (0.1..=10.0).contains(&(high_after / high_recorded)),
        "enriched share above 8.5 kHz {high_after:e}, recording {high_recorded:e}"
    );
    let low_before = band_energy(&before, 44100.0, 50.0, 7500.0);
    let low_after = band_energy(&after, 44100.0, 50.0, 7500.0);
    let change_db = 10.0 * (low_after / low_before).log10();
    assert!(change_db.abs() < 0.1, "energy below 7.5 kHz changed by {change_db:.3} dB");
}

#[test]
fn modify_hits_the_requested_range_duration_pitch_and_mapping() {
    let scratch = scratch("ex-modify");
    let dir = scratch.path();
    let input = flute_16k_csv();
    let original = read_csv(&input);
    let inp = input.to_str().unwrap();

    ddsp_ok(dir, &["modify", inp, "-o", "range.csv", "--freq-range", "100:1000"]);
    let range = read_csv(&dir.join("range.csv"));
    let audible: Vec<f32> =
        range.harmonic_freqs_hz.iter().zip(&range.harmonic_amps).filter(|(_, &a)| a > 0.0).map(|(&f, _)| f).collect();
    let lo = audible.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = audible.iter().copied().fold(0.0, f32::max);
    assert_relative_eq!(lo, 100.0, max_relative = 1e-4);
    assert_relative_eq!(hi, 1000.0, max_relative = 1e-4);

    ddsp_ok(dir, &["modify", inp, "-o", "five_s.csv", "--duration", "5"]);
    let five = read_csv(&dir.join("five_s.csv"));
    assert!((five.duration_s() - 5.0).abs() <= 1.0 / five.frame_rate_hz, "duration {}", five.duration_s());
    ddsp_ok(dir, &["modify", inp, "-o", "slow.csv", "--time-scale", "2"]);
    let slow = read_csv(&dir.join("slow.csv"));
    assert_eq!(slow.frame_count(), 2 * original.frame_count());
    // Frame 2i of the slow file is frame i of the original.
    for i in (0..original.frame_count()).step_by(97) {
        assert_relative_eq!(slow.f0_hz[2 * i], original.f0_hz[i], max_relative = 1e-5);
    }

    ddsp_ok(dir, &["modify", inp, "-o", "fixed.csv", "--fix-pitch", "220"]);
    let fixed = read_csv(&dir.join("fixed.csv"));
    assert!(fixed.f0_hz.iter().all(|&f| f == 220.0));
    for i in (0..original.frame_count()).filter(|&i| original.f0_hz[i] > 0.0).step_by(53) {
        for k in 0..10 {
            let ratio_before = original.harmonic_freqs(i)[k] / original.f0_hz[i];
            assert_relative_eq!(fixed.harmonic_freqs(i)[k] / 220.0, ratio_before, max_relative = 1e-4);
        }
    }

    ddsp_ok(dir, &["modify", inp, "-o", "remap.csv", "--remap-partials", "0:0,1:2,2:4"]);
    let remap = read_csv(&dir.join("remap.csv"));
    assert_eq!(remap.harmonic_count, 5);
    for i in (0..original.frame_count()).step_by(31) {
        let a = original.harmonic_amps(i);
        assert_eq!(remap.harmonic_amps(i), &[a[0], 0.0, a[1], 0.0, a[2]]);
    }
}

#[test]
fn map_puts_partials_at_the_target_ratios() {
    let scratch = scratch("ex-map");
    let dir = scratch.path();
    let input = flute_16k_csv();
    let original = read_csv(&input);
    let ratios = [1.0f32, 2.76, 5.40, 8.93];
    ddsp_ok(dir, &["map", input.to_str().unwrap(), "-o", "bell.csv", "--target", "1,2.76,5.40,8.93"]);
    std::fs::write(dir.join("ratios.txt"), "# a bell\n8.93\n1 2.76 5.40\n").unwrap();
    ddsp_ok(dir, &["map", input.to_str().unwrap(), "-o", "bell_file.csv", "--target", "ratios.txt"]);
    let bell = read_csv(&dir.join("bell.csv"));
    assert_eq!(bell, read_csv(&dir.join("bell_file.csv")));
    assert_eq!(bell.harmonic_count, 4);
    for i in 0..original.frame_count() {
        for (k, r) in ratios.iter().enumerate() {
            assert_relative_eq!(bell.harmonic_freqs(i)[k], original.f0_hz[i] * r, max_relative = 1e-5);
            let expected = if original.f0_hz[i] * r < 8000.0 { original.harmonic_amps(i)[k] } else { 0.0 };
            assert_eq!(bell.harmonic_amps(i)[k], expected);
        }
    }
    ddsp_ok(dir, &["map", input.to_str().unwrap(), "-o", "tet.csv", "--target", "tet:19"]);
    let tet = read_csv(&dir.join("tet.csv"));
    let i = original.f0_hz.iter().position(|&f| f > 0.0).unwrap();
    for k in 0..tet.harmonic_count {
        assert_relative_eq!(
            tet.harmonic_freqs(i)[k],
            original.f0_hz[i] * 2f32.powf(k as f32 / 19.0),
            max_relative = 1e-5
        );
    }
}
