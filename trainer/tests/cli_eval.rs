//! End-to-end checks of `ddsp eval` through the real binary: analyse a real recording, render
//! the CSV with `ddsp render`, and score the render against the recording, with silence and a
//! different recording for scale.

use std::path::Path;

use ddsp_tests::cli::{ddsp, ddsp_ok, eval_json, example};
use ddsp_tests::wav::write_wav_i16;
use ddsp_trainer::audio::decode::read_audio_mono;

/// Seconds `from_s..from_s + seconds` of an example recording, written as a WAV.
fn excerpt(name: &str, from_s: f64, seconds: f64, to: &Path) {
    let (samples, sr) = read_audio_mono(&example(name)).unwrap();
    let a = (from_s * f64::from(sr)) as usize;
    let b = (a + (seconds * f64::from(sr)) as usize).min(samples.len());
    write_wav_i16(to, &samples[a..b], sr, 1);
}

fn distance(report: &serde_json::Value) -> f64 {
    report["spectral_distance"].as_f64().unwrap()
}

#[test]
fn an_analysed_and_rendered_recording_scores_close_to_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    excerpt("violin_phrase_44k.wav", 2.0, 3.0, &p("violin.wav"));
    excerpt("flute_phrase_44k.wav", 2.0, 3.0, &p("flute.wav"));
    write_wav_i16(&p("silence.wav"), &vec![0.0; 3 * 44100], 44100, 1);
    ddsp_ok(&["analyze", p("violin.wav").to_str().unwrap(), "-o", p("violin.csv").to_str().unwrap()]);
    ddsp_ok(&[
        "render",
        p("violin.csv").to_str().unwrap(),
        "-o",
        p("resynth.wav").to_str().unwrap(),
        "--sample-rate",
        "44100",
    ]);

    let resynth = eval_json(&p("violin.wav"), &p("resynth.wav"));
    let other = eval_json(&p("violin.wav"), &p("flute.wav"));
    let silence = eval_json(&p("violin.wav"), &p("silence.wav"));
    eprintln!(
        "violin 3 s: resynthesis {:.3}, flute {:.3}, silence {:.3}; resynthesis f0 median {} cents, loudness {} dB",
        distance(&resynth),
        distance(&other),
        distance(&silence),
        resynth["f0_error_cents_median"],
        resynth["loudness_error_db_mean"]
    );
    assert!(distance(&resynth) < 0.5 * distance(&other), "resynthesis no closer than another instrument");
    assert!(distance(&other) < distance(&silence));
    assert!(resynth["f0_error_cents_median"].as_f64().unwrap() < 10.0, "{resynth}");
    assert!(resynth["loudness_error_db_mean"].as_f64().unwrap() < 3.0, "{resynth}");
    assert!(
        resynth["voiced_frames_both"].as_u64().unwrap() > resynth["voiced_frames_reference"].as_u64().unwrap() * 8 / 10
    );
    assert!(silence["f0_error_cents_mean"].is_null());
    assert_eq!(resynth["scales"].as_array().unwrap().len(), 6);

    // The same recording scores exactly 0, and the readable table says what each number is.
    let table = ddsp_ok(&[
        "eval",
        "--reference",
        p("violin.wav").to_str().unwrap(),
        "--candidate",
        p("violin.wav").to_str().unwrap(),
    ]);
    assert!(table.contains("multi-scale spectral distance") && table.contains("0.000"), "{table}");
    for size in ["2048", "1024", "512", "256", "128", "64"] {
        assert!(table.contains(size), "{table}");
    }
    assert!(table.contains("f0 error") && table.contains("loudness error"), "{table}");
}

#[test]
fn a_candidate_at_another_rate_is_resampled_first() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref.wav");
    let candidate = dir.path().join("cand.wav");
    let tone = |sr: u32| -> Vec<f32> {
        (0..sr).map(|i| 0.3 * (std::f32::consts::TAU * 330.0 * i as f32 / sr as f32).sin()).collect()
    };
    write_wav_i16(&reference, &tone(44100), 44100, 1);
    write_wav_i16(&candidate, &tone(16000), 16000, 1);
    let report = eval_json(&reference, &candidate);
    assert!(report["f0_error_cents_median"].as_f64().unwrap() < 1.0, "{report}");
    assert!(report["loudness_error_db_mean"].as_f64().unwrap() < 0.5, "{report}");
    let table =
        ddsp_ok(&["eval", "--reference", reference.to_str().unwrap(), "--candidate", candidate.to_str().unwrap()]);
    assert!(table.contains("resampled from 16000 Hz"), "{table}");
}

#[test]
fn bad_inputs_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_wav_i16(&good, &vec![0.1; 8000], 16000, 1);
    let text = dir.path().join("text.wav");
    std::fs::write(&text, "hello").unwrap();
    let short = dir.path().join("short.wav");
    write_wav_i16(&short, &[0.1; 300], 16000, 1);
    for (bad, expect) in [(&text, "not an audio file"), (&short, "too short")] {
        let out = ddsp(&["eval", "--reference", good.to_str().unwrap(), "--candidate", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(bad.file_name().unwrap().to_str().unwrap()) && err.contains(expect), "{err}");
    }
}
