//! `ddsp play` through the real binary: the committed MIDI example (tempo change, pitch bend)
//! through the plugin's built-in model gives each note's pitch at its time; `--csv` writes the
//! sung envelope; bad inputs get errors naming the file.

use ddsp_tests::cli::{ddsp_err_in, ddsp_ok, repo_root, scratch};
use ddsp_tests::wav::read_wav_first_channel;
use ddsp_trainer::features::f0::estimate_f0;

fn model() -> String {
    repo_root().join("plugin/assets/builtin.ddsp").to_string_lossy().into_owned()
}

fn melody() -> String {
    repo_root().join("examples/midi/melody.mid").to_string_lossy().into_owned()
}

/// Median f0 between `from_s` and `to_s`.
fn median_f0(track: &[f32], frame_rate_hz: f64, from_s: f64, to_s: f64) -> f32 {
    let mut v: Vec<f32> = track[(from_s * frame_rate_hz) as usize..(to_s * frame_rate_hz) as usize].to_vec();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[test]
fn the_melody_plays_each_note_at_its_pitch_and_time() {
    let dir = scratch();
    let wav = dir.path().join("melody.wav");
    let csv = dir.path().join("melody.csv");
    let (wav_s, csv_s) = (wav.to_str().unwrap(), csv.to_str().unwrap());
    ddsp_ok(&["play", "--model", &model(), &melody(), "-o", wav_s, "--csv", csv_s, "--release-ms", "50"]);
    let (samples, rate) = read_wav_first_channel(&wav);
    assert_eq!(rate, 48_000);
    // The song ends at 2.333 s; then the 50 ms release and the 30 ms tail.
    let length_s = samples.len() as f64 / rate as f64;
    assert!((length_s - 2.4133).abs() < 0.01, "length {length_s} s");
    let track = estimate_f0(&samples, rate, 100.0).unwrap();
    // Times from examples/midi/make_melody.py (120 bpm, then 90 bpm from 1.0 s).
    for (from_s, to_s, hz) in
        [(0.1, 0.45, 440.0), (0.6, 0.95, 659.26), (1.1, 1.6, 523.25), (1.75, 1.95, 392.0), (2.08, 2.3, 415.3)]
    {
        let f0 = median_f0(&track.f0_hz, 100.0, from_s, to_s);
        let cents = 1200.0 * (f0 / hz).log2();
        assert!(cents.abs() < 10.0, "{from_s}-{to_s} s: {f0} Hz, expected {hz} ({cents:.1} cents)");
    }
    let envelope = ddsp_shared::unified_csv::read_path(&csv).unwrap();
    assert_eq!(envelope.frame_rate_hz, 50.0, "the model's frame rate");
    let frame = (0.3 * 50.0) as usize;
    assert!((envelope.f0_hz[frame] - 440.0).abs() < 0.01, "the CSV's f0 at 0.3 s: {}", envelope.f0_hz[frame]);
    assert!(envelope.harmonic_amps(frame).iter().sum::<f32>() > 1e-3, "the CSV holds the sung harmonics");
}

#[test]
fn bad_midi_files_and_polyphony_with_csv_get_clear_errors() {
    let dir = scratch();
    std::fs::write(dir.path().join("not.mid"), b"RIFF1234WAVE").unwrap();
    let err = ddsp_err_in(dir.path(), &["play", "--model", &model(), "not.mid", "-o", "x.wav"]);
    assert!(err.contains("not.mid is not a usable MIDI file"), "{err}");
    assert!(!dir.path().join("x.wav").exists());

    let err = ddsp_err_in(dir.path(), &["play", "--model", "not.mid", &melody(), "-o", "x.wav"]);
    assert!(err.contains("not.mid is not a ddsp-rs instrument file"), "{err}");

    let err = ddsp_err_in(dir.path(), &["play", "--run", "norun", &melody(), "-o", "x.wav"]);
    assert!(err.contains("norun has no instrument.ddsp"), "{err}");
}
