//! From a recording to an instrument in a DAW, across every crate: a tiny `ddsp train` on a
//! real recording exports its envelopes; the `.npz` archive reads back equal to the chunk's
//! CSV; the built plugin (through its CLAP entry point) plays the exported CSV as `ddsp render`
//! does, at the data's pitch and a fifth up; and in Model mode it plays the run's
//! `instrument.ddsp` as `ddsp transfer` plays a steady tone at the same pitch and loudness.

use std::path::Path;

use ddsp_tests::clap_host::*;
use ddsp_tests::cli::{ddsp_ok, eval_json, example, scratch, TINY_TRAINING};
use ddsp_tests::wav::{read_wav_first_channel, write_wav_f32, write_wav_i16};
use ddsp_trainer::envelope_archive::EnvelopeArchive;
use ddsp_trainer::train::training::RunPaths;

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

    held_model_note_sounds_like_transfer_of_a_steady_tone(&run, dir);
}

/// Seconds of the held note that are compared: after the GRU has settled, before the end.
const HELD_FROM_S: f64 = 1.0;
const HELD_TO_S: f64 = 2.5;

/// `samples` (at `rate`) from [`HELD_FROM_S`] to [`HELD_TO_S`], written to `path`.
fn write_held_part(path: &Path, samples: &[f32], rate: u32) {
    let part = &samples[(HELD_FROM_S * f64::from(rate)) as usize..(HELD_TO_S * f64::from(rate)) as usize];
    write_wav_f32(path, part, rate);
}

/// A 440 Hz sine, 3 s at the model rate, `amplitude` peak, with a 5 ms fade-in (the plugin's
/// default attack).
fn sine_440(amplitude: f32, rate: u32) -> Vec<f32> {
    (0..3 * rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            let fade = (t / 0.005).min(1.0);
            (f64::from(amplitude) * fade * (std::f64::consts::TAU * 440.0 * t).sin()) as f32
        })
        .collect()
}

/// Item 5 of the playable-model issue: note 69 held in Model mode (the run's instrument file,
/// imported through the project state) against `ddsp transfer` of a 440 Hz sine whose loudness,
/// as the trainer measures it, is the loudness the plugin's note sings at full velocity.
fn held_model_note_sounds_like_transfer_of_a_steady_tone(run: &Path, dir: &Path) {
    let model_path = run.join("instrument.ddsp");
    let bytes = std::fs::read(&model_path).expect("ddsp train writes instrument.ddsp");
    let model = ddsp_shared::instrument::file::InstrumentFile::from_bytes(&bytes, "instrument.ddsp").unwrap();
    let target_db = ddsp_shared::voices::model_drive::note_loudness_db(&model.stats, 1.0, 1.0);

    // The trainer's own analysis gives the sine's loudness; scaling the amplitude shifts it
    // by exactly 20·log10 of the factor.
    let rate = model.sample_rate_hz;
    let instrument = ddsp_trainer::train::inference::Instrument::load(&RunPaths::new(run)).unwrap();
    let probe = dir.join("probe.wav");
    write_wav_f32(&probe, &sine_440(0.1, rate), rate);
    let probe_db = median(&instrument.analyse(&probe).unwrap().loudness_db);
    let amplitude = 0.1 * 10f32.powf((target_db - probe_db) / 20.0);
    assert!(amplitude < 1.0, "the trained loudness fits in a WAV: amplitude {amplitude}");
    let tone = dir.join("tone.wav");
    write_wav_f32(&tone, &sine_440(amplitude, rate), rate);
    let analysed = instrument.analyse(&tone).unwrap();
    assert!((median(&analysed.loudness_db) - target_db).abs() < 0.1, "the tone's loudness is the note's");

    let transferred_path = dir.join("transferred.wav");
    ddsp_ok(&[
        "transfer",
        "--run",
        run.to_str().unwrap(),
        tone.to_str().unwrap(),
        "-o",
        transferred_path.to_str().unwrap(),
        // The tone's own loudness, not mapped onto the training's.
        "--no-auto-adjust",
    ]);
    let (transferred, transferred_rate) = read_wav_first_channel(&transferred_path);
    let reference = dir.join("transfer_held.wav");
    write_held_part(&reference, &transferred, transferred_rate);

    // One offline render: `ddsp render` of the CSV that transfer wrote gives transfer's own
    // samples and length; with another noise seed it gives the distance that noise alone makes.
    let csv = transferred_path.with_extension("csv");
    let render = |seed: &str| {
        let out = dir.join(format!("rendered_seed_{seed}.wav"));
        let args = [csv.to_str().unwrap(), "-o", out.to_str().unwrap(), "--sample-rate", "16000", "--seed", seed];
        ddsp_ok(&[&["render"], &args[..]].concat());
        read_wav_first_channel(&out).0
    };
    let rendered = render("1");
    assert_eq!(rendered.len(), transferred.len(), "ddsp render and ddsp transfer give the same length");
    let worst = rendered.iter().zip(&transferred).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "ddsp render of transfer's CSV differs from transfer by up to {worst}");
    let reseeded = dir.join("reseeded_held.wav");
    write_held_part(&reseeded, &render("7"), transferred_rate);
    let noise_floor = eval_json(&reference, &reseeded)["spectral_distance"].as_f64().unwrap();

    let held = |key: i16| {
        let mut plugin = Instance::new();
        plugin.load_state(&state_with_model(&plugin.save_state(), model_path.to_str().unwrap(), &bytes));
        plugin.flush(&[param(0, param_hash("source"), plugin.text_to_value("source", "Model"))]);
        plugin.activate();
        let played = plugin.render(3 * 48_000, 512, &[(0, note_on(0, key, 1.0))]);
        let path = dir.join(format!("plugin_held_{key}.wav"));
        write_held_part(&path, &played, 48_000);
        eval_json(&reference, &path)
    };
    let same_note = held(69);
    let distance = same_note["spectral_distance"].as_f64().unwrap();
    // A control: the same model a major third up, which the bound must tell apart.
    let other_note = held(73)["spectral_distance"].as_f64().unwrap();
    eprintln!(
        "held note 69 vs transfer: {distance:.3}; another noise seed: {noise_floor:.3}; note 73: {other_note:.3}"
    );
    // Measured: 4.11 against a noise floor of 3.53 (a second noise realisation of the same
    // envelope) and 9.37 for the wrong note; pitch within 0.5 cents, loudness within 0.1 dB.
    assert!(
        distance < 1.4 * noise_floor,
        "plugin note 69 vs ddsp transfer of a 440 Hz tone: spectral distance {distance}, noise alone {noise_floor}"
    );
    assert!(other_note > 1.8 * distance, "a different note must measure farther: {other_note} against {distance}");
    assert!(same_note["f0_error_cents_median"].as_f64().unwrap() < 5.0, "pitch: {same_note}");
    assert!(same_note["loudness_error_db_mean"].as_f64().unwrap() < 1.0, "loudness: {same_note}");
}

fn median(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted[sorted.len() / 2]
}
