//! What a listener hears from a live model voice (SPEC §9): the decoder's frames played by the
//! §4 renderer at the note's pitch and level, seamless across frame changes and host block
//! sizes, and the shared voice bank's notes, chords and velocities in Model mode.

use ddsp_shared::instrument::weights::DecoderWeights;
use ddsp_shared::instrument::{exp_sigmoid, InstrumentFile, ModelNote, ModelVoice, TrainingStats};
use ddsp_shared::render::random::Random;
use ddsp_shared::render::RenderParams;
use ddsp_shared::voices::{AdsrSettings, NoteKey, NoteSettings, Sounding, VoiceBank};

const SR: f32 = 48_000.0;

fn stats() -> TrainingStats {
    let loudness: Vec<f32> = (0..100).map(|i| -60.0 + 0.5 * i as f32).collect();
    TrainingStats::from_frames(&[330.0; 100], &[1.0; 100], &loudness, -70.0).unwrap()
}

/// A model whose weights are all zero: every layer outputs zero, so the controls are the final
/// biases alone: only the fundamental (amplitude `exp_sigmoid(amplitude_bias)`), and no noise.
fn sine_model(amplitude_bias: f32) -> InstrumentFile {
    let mut weights = DecoderWeights::zeros(16);
    weights.dense_out.bias.fill(-30.0);
    weights.dense_out.bias[0] = amplitude_bias;
    weights.dense_out.bias[1] = 10.0;
    InstrumentFile { name: "sine".into(), sample_rate_hz: 16_000, frame_rate_hz: 50, weights, stats: stats() }
}

fn random_model(frame_rate_hz: u32) -> InstrumentFile {
    let mut weights = DecoderWeights::zeros(24);
    let mut rng = Random::new(8);
    for (_, values) in weights.named_mut() {
        values.iter_mut().for_each(|v| *v = 0.3 * rng.bipolar());
    }
    InstrumentFile { name: "random".into(), sample_rate_hz: 16_000, frame_rate_hz, weights, stats: stats() }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Amplitude of the component at `hz` (a single-bin DFT over whole periods, Hann-free since
/// the tests' tones are steady).
fn amplitude_at(x: &[f32], hz: f32) -> f32 {
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (n, &v) in x.iter().enumerate() {
        let phase = std::f64::consts::TAU * hz as f64 * n as f64 / SR as f64;
        re += v as f64 * phase.cos();
        im += v as f64 * phase.sin();
    }
    (2.0 * (re * re + im * im).sqrt() / x.len() as f64) as f32
}

/// Frequency from rising zero crossings (linearly interpolated), Hz.
fn zero_crossing_hz(x: &[f32]) -> f32 {
    let crossings: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + (w[0] / (w[0] - w[1])) as f64)
        .collect();
    let periods = crossings.len() - 1;
    (periods as f64 * SR as f64 / (crossings[periods] - crossings[0])) as f32
}

fn render(voice: &mut ModelVoice, model: &InstrumentFile, note: ModelNote, samples: usize, block: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; samples];
    for chunk in out.chunks_mut(block) {
        voice.process(model, &RenderParams::default(), note, chunk);
    }
    out
}

#[test]
fn a_note_sounds_at_its_f0_with_the_decoded_amplitude() {
    let model = sine_model(-1.0);
    let mut voice = ModelVoice::new();
    voice.prepare(SR, 512);
    let note = ModelNote { f0_hz: 440.0, loudness_db: -30.0 };
    voice.start(&model, note);
    let out = render(&mut voice, &model, note, SR as usize, 512);
    let steady = &out[4800..];
    let f = zero_crossing_hz(steady);
    assert!((f - 440.0).abs() < 0.05, "fundamental at {f} Hz");
    let amplitude = exp_sigmoid(-1.0);
    let level = rms(steady) * std::f32::consts::SQRT_2;
    assert!((level / amplitude - 1.0).abs() < 0.005, "peak {level} against the decoded {amplitude}");
}

#[test]
fn output_does_not_depend_on_block_size_and_start_repeats_it() {
    let model = random_model(250);
    let mut voice = ModelVoice::new();
    voice.prepare(44_100.0, 4096);
    let note = ModelNote { f0_hz: 261.6, loudness_db: -25.0 };
    let mut reference = None;
    for block in [4096usize, 1, 7, 64, 333] {
        voice.start(&model, note);
        let out = render(&mut voice, &model, note, 22_050, block);
        assert!(rms(&out) > 1e-4, "the random model sings");
        match &reference {
            None => reference = Some(out),
            Some(r) => assert!(r == &out, "blocks of {block} differ from blocks of 4096"),
        }
    }
}

#[test]
fn a_new_pitch_is_heard_one_model_frame_later() {
    let model = sine_model(-1.0);
    let mut voice = ModelVoice::new();
    voice.prepare(SR, 512);
    let low = ModelNote { f0_hz: 220.0, loudness_db: -30.0 };
    voice.start(&model, low);
    render(&mut voice, &model, low, 4800, 100);
    // From 0.1 s the note asks for 330 Hz: the decoder's next frame (within 20 ms) has it, and
    // the renderer glides there across one frame (20 ms), so from 40 ms on it sounds.
    let high = ModelNote { f0_hz: 330.0, ..low };
    let out = render(&mut voice, &model, high, 9600, 100);
    let f = zero_crossing_hz(&out[1920..]);
    assert!((f - 330.0).abs() < 0.1, "after the change: {f} Hz");
}

#[test]
fn the_voice_bank_plays_notes_chords_and_velocities_from_the_model() {
    let model = sine_model(1.0);
    let mut bank = VoiceBank::default();
    bank.prepare(SR, 256);
    let settings = NoteSettings::default();
    let adsr = AdsrSettings { attack_ms: 5.0, decay_ms: 1.0, sustain: 1.0, release_ms: 10.0 };
    let key = |note| NoteKey { channel: Some(0), note: Some(note), voice_id: None };
    let play = |bank: &mut VoiceBank| {
        let mut out = vec![0.0f32; 24_000];
        let mut scratch = [0.0f32; 256];
        for chunk in out.chunks_mut(256) {
            bank.render_add(Sounding::Model(&model), &RenderParams::default(), &adsr, SR, &mut scratch, chunk);
        }
        out
    };
    bank.note_on(key(69), 1.0, &settings);
    let a4 = play(&mut bank);
    assert!((zero_crossing_hz(&a4[4800..]) - 440.0).abs() < 0.05);
    bank.reset();
    bank.note_on(key(76), 1.0, &settings);
    let e5 = play(&mut bank);
    assert!((zero_crossing_hz(&e5[4800..]) - 659.255).abs() < 0.05);
    bank.reset();
    bank.note_on(key(69), 1.0, &settings);
    bank.note_on(key(76), 1.0, &settings);
    let chord = play(&mut bank);
    let (a, e, between) = (
        amplitude_at(&chord[4800..], 440.0),
        amplitude_at(&chord[4800..], 659.255),
        amplitude_at(&chord[4800..], 550.0),
    );
    assert!(a > 0.5 * exp_sigmoid(1.0) && e > 0.5 * exp_sigmoid(1.0), "both notes sound: {a}, {e}");
    assert!(between < 0.02 * a, "nothing between them: {between}");
}
