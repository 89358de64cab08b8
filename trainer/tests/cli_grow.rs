//! `ddsp grow` through the real binary: from the plugin's built-in model and from the example
//! CSV, stage k has exactly the strategy's number of harmonics, in the staged CSV and in the
//! rendered audio; bad flags get errors naming them.

use std::path::Path;

use ddsp_shared::Envelope;
use ddsp_tests::cli::{ddsp_err_in, ddsp_ok, repo_root, scratch};
use ddsp_tests::wav::read_wav_first_channel;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The stages of a staged envelope: runs of frames where anything sounds, as frame ranges.
fn stages(envelope: &Envelope) -> Vec<std::ops::Range<usize>> {
    let sounding: Vec<bool> = (0..envelope.frame_count())
        .map(|i| envelope.harmonic_amps(i).iter().chain(envelope.band_mags(i)).any(|&v| v > 0.0))
        .collect();
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &on) in sounding.iter().chain([&false]).enumerate() {
        match (on, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// Harmonics sounding in frame `i`: how many, and the highest (1-based).
fn sounding_harmonics(envelope: &Envelope, i: usize) -> (usize, usize) {
    let amps = envelope.harmonic_amps(i);
    (amps.iter().filter(|&&a| a > 0.0).count(), amps.iter().rposition(|&a| a > 0.0).map_or(0, |k| k + 1))
}

/// Power of `samples[from..to]` at `f_hz` (Hann-windowed DFT bin at exactly that frequency).
fn power_at(samples: &[f32], sample_rate_hz: f64, from: usize, to: usize, f_hz: f64) -> f64 {
    let n = to - from;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (i, &x) in samples[from..to].iter().enumerate() {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
        let phase = std::f64::consts::TAU * f_hz * i as f64 / sample_rate_hz;
        re += w * f64::from(x) * phase.cos();
        im -= w * f64::from(x) * phase.sin();
    }
    re * re + im * im
}

/// In the middle 0.3 s of each stage, the harmonics above the stage's count carry less than
/// 1e-6 of the power of those within it (harmonics of `f0_hz` up to 7.5 kHz).
fn assert_audio_has_only_the_stage_harmonics(wav: &Path, envelope: &Envelope, counts: &[usize], f0_hz: f64) {
    let (samples, rate) = read_wav_first_channel(wav);
    let sr = f64::from(rate);
    let top = (7500.0 / f0_hz) as usize;
    for (stage, (frames, &count)) in stages(envelope).iter().zip(counts).enumerate() {
        let centre_s = envelope.frame_time_s((frames.start + frames.end) / 2);
        let (from, to) = (((centre_s - 0.15) * sr) as usize, ((centre_s + 0.15) * sr) as usize);
        let power = |j: usize| power_at(&samples, sr, from, to, j as f64 * f0_hz);
        let within: f64 = (1..=count).map(power).sum();
        let above: f64 = (count + 1..=top).map(power).sum();
        assert!(
            within > 0.0 && above < 1e-6 * within,
            "stage {stage} ({count} harmonics): above/within = {:e}",
            above / within
        );
    }
}

#[test]
fn model_stages_have_exactly_the_fibonacci_harmonics() {
    let dir = scratch();
    let (wav, csv) = (dir.path().join("grown.wav"), dir.path().join("grown.csv"));
    let model = repo_root().join("plugin/assets/builtin.ddsp");
    let out = ddsp_ok(&[
        "grow",
        "--model",
        path(&model),
        "-o",
        path(&wav),
        "--csv",
        path(&csv),
        "--strategy",
        "fibonacci",
        "--stages",
        "5",
        "--f0",
        "220",
        "--stage-s",
        "0.6",
        "--silence-s",
        "0.3",
        "--noise-volume",
        "0",
    ]);
    let _ = out;
    let envelope = ddsp_shared::unified_csv::read_path(&csv).unwrap();
    let runs = stages(&envelope);
    let counts = [1, 2, 3, 5, 8];
    assert_eq!(runs.len(), counts.len(), "stages found: {runs:?}");
    for (run, &count) in runs.iter().zip(&counts) {
        for i in run.clone() {
            let (n, highest) = sounding_harmonics(&envelope, i);
            // Every frame where harmonics sound has exactly the stage's first `count`.
            assert!(
                n == 0 || (n == count && highest == count),
                "frame {i}: {n} harmonics up to {highest}, expected {count}"
            );
            assert!((envelope.f0_hz[i] - 220.0).abs() < 0.01, "frame {i}: f0 {}", envelope.f0_hz[i]);
        }
        assert!(run.clone().any(|i| sounding_harmonics(&envelope, i).0 == count));
        // 0.6 s held, then the release (150 ms by default) at the model's 50 frames/s.
        let held_s = run.len() as f64 / envelope.frame_rate_hz;
        assert!((0.6..=0.9).contains(&held_s), "a stage lasts {held_s} s");
    }
    // The silence between stages is 0.3 s.
    let gap_s = (runs[1].start - runs[0].end) as f64 / envelope.frame_rate_hz;
    assert!((0.3..=0.4).contains(&gap_s), "gap {gap_s} s");
    assert_audio_has_only_the_stage_harmonics(&wav, &envelope, &counts, 220.0);
}

#[test]
fn csv_stages_grow_linearly_at_the_asked_note() {
    let dir = scratch();
    let (wav, csv) = (dir.path().join("grown.wav"), dir.path().join("grown.csv"));
    let source = repo_root().join("examples/violin_phrase_44k.csv");
    ddsp_ok(&[
        "grow",
        "--csv-in",
        path(&source),
        "-o",
        path(&wav),
        "--csv",
        path(&csv),
        "--stages",
        "4",
        "--note",
        "A3",
        "--stage-s",
        "0.6",
        "--silence-s",
        "0.2",
        "--noise-volume",
        "0",
        "--sample-rate",
        "44100",
    ]);
    let envelope = ddsp_shared::unified_csv::read_path(&csv).unwrap();
    // The example CSV has 40 harmonics: 10, 20, 30, 40.
    let counts = [10, 20, 30, 40];
    let runs = stages(&envelope);
    assert_eq!(runs.len(), 4, "stages found: {runs:?}");
    for (run, &count) in runs.iter().zip(&counts) {
        assert!(run.clone().all(|i| sounding_harmonics(&envelope, i).1 <= count), "a stage of {count} has more");
        assert!(run.clone().any(|i| sounding_harmonics(&envelope, i).1 == count), "a stage of {count} has fewer");
        assert!(run.clone().all(|i| (envelope.f0_hz[i] - 220.0).abs() < 0.01), "A3 is 220 Hz");
    }
    assert_audio_has_only_the_stage_harmonics(&wav, &envelope, &counts, 220.0);
}

#[test]
fn bad_grow_flags_are_named() {
    let dir = scratch();
    let model = repo_root().join("plugin/assets/builtin.ddsp");
    for (flags, expected) in [
        (vec!["--note", "H2"], "--note H2"),
        (vec!["--stages", "0"], "--stages 0"),
        (vec!["--stage-s", "0"], "--stage-s"),
        (vec!["--velocity", "0"], "--velocity 0"),
    ] {
        let mut args = vec!["grow", "--model", path(&model), "-o", "x.wav"];
        args.extend(flags);
        let err = ddsp_err_in(dir.path(), &args);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!dir.path().join("x.wav").exists());
    }
}
