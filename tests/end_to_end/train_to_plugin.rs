//! From a recording to an instrument in a DAW, across every crate: a tiny `ddsp train` on a
//! real recording exports its envelopes; the `.npz` archive reads back equal to the chunk's
//! CSV; the built plugin (through its CLAP entry point) plays the exported CSV as `ddsp render`
//! does, at the data's pitch and a fifth up.

use std::path::Path;

use ddsp_tests::clap_host::*;
use ddsp_tests::cli::{ddsp_ok, eval_json, example, scratch, TINY_TRAINING};
use ddsp_tests::wav::{read_wav_first_channel, write_wav_f32, write_wav_i16};
use ddsp_trainer::envelope_archive::EnvelopeArchive;

/// The first 4.5 s of the violin example, as a WAV of its own (two export chunks).
fn excerpt(to: &Path) {
    let (samples, rate) = read_wav_first_channel(&example("violin_phrase_44k.wav"));
    write_wav_i16(to, &samples[..(4.5 * rate as f64) as usize], rate, 1);
}

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn a_trained_models_export_reads_back_and_plays_in_the_plugin() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("violin.wav");
    excerpt(&wav);
    let run = dir.join("run");
    let mut args = vec!["train", wav.to_str().unwrap(), "--out", run.to_str().unwrap()];
    args.extend(TINY_TRAINING);
    args.extend(["--steps", "30"]);
    ddsp_ok(&args);
    let folder = run.join("export").join("violin");

    // The archive holds what the chunk's CSV holds: f0 and noise per frame exactly, and each
    // harmonic's amplitude and frequency at the frame's own sample row.
    let npz = EnvelopeArchive::read(&folder.join("chunk_00_envelopes.npz")).unwrap();
    let csv = ddsp_shared::unified_csv::read_path(&folder.join("chunk_00_unified.csv")).unwrap();
    assert_eq!(npz.frame_count(), csv.frame_count());
    assert_eq!(npz.f0_hz_frames, csv.f0_hz);
    assert_eq!(npz.noise_magnitudes_frames, csv.band_mags);
    let rows_per_frame = npz.rows_per_frame() as usize;
    let h = npz.harmonic_count;
    for i in 0..npz.frame_count() {
        let row = i * rows_per_frame;
        assert_eq!(&npz.amplitude_envelopes[row * h..(row + 1) * h], csv.harmonic_amps(i), "frame {i}");
        assert_eq!(&npz.frequency_envelopes[row * h..(row + 1) * h], csv.harmonic_freqs(i), "frame {i}");
    }

    // The plugin plays the whole file's CSV as `ddsp render` does: at the root key and a fifth
    // up (key 67 with 12-TET against `--pitch 7`).
    let whole = folder.join("violin_unified.csv");
    let csv_text = std::fs::read_to_string(&whole).unwrap();
    for (key, pitch) in [(60, "0"), (67, "7")] {
        let rendered_wav = dir.join(format!("render_{key}.wav"));
        ddsp_ok(&[
            "render",
            whole.to_str().unwrap(),
            "-o",
            rendered_wav.to_str().unwrap(),
            "--sample-rate",
            "48000",
            "--pitch",
            pitch,
            "--seconds",
            "4",
        ]);
        let (rendered, _) = read_wav_first_channel(&rendered_wav);
        let mut plugin = Instance::new();
        plugin.load_state(&state_with_csv(&plugin.save_state(), whole.to_str().unwrap(), &csv_text));
        plugin.activate();
        let played = plugin.render(rendered.len(), 512, &[(0, note_on(0, key, 1.0))]);
        assert!(rms(&played) > 1e-3, "key {key}: the exported sound is audible (rms {})", rms(&played));
        let level_ratio = rms(&played) / rms(&rendered);
        assert!((level_ratio - 1.0).abs() < 0.005, "key {key}: plugin level / ddsp render level = {level_ratio}");
        let played_wav = dir.join(format!("plugin_{key}.wav"));
        write_wav_f32(&played_wav, &played, 48_000);
        let distance = eval_json(&rendered_wav, &played_wav)["spectral_distance"].as_f64().unwrap();
        // Measured 0.005 (key 60) and 0.003 (key 67): only the note's 5 ms attack differs.
        assert!(distance < 0.05, "key {key}: plugin vs ddsp render spectral distance {distance}");
    }
}
