//! `Renderer::process` (and everything else the audio thread calls after `prepare`) makes no
//! heap allocation: a counting global allocator watches this thread while it runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ddsp_shared::instrument::weights::DecoderWeights;
use ddsp_shared::instrument::{InstrumentFile, ModelNote, ModelVoice, TrainingStats};
use ddsp_shared::render::random::Random;
use ddsp_shared::render::{AnchorMode, BounceParams, RenderParams, Renderer};
use ddsp_shared::voices::{AdsrSettings, NoteKey, NoteSettings, Sounding, VoiceBank};
use ddsp_shared::Envelope;

/// Counts allocations made on a thread while its `COUNTING` flag is set (per thread, so tests
/// running side by side do not see each other's).
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    ALLOCATIONS.with(|a| a.set(a.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            count_one();
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            count_one();
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            count_one();
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn envelope(frames: usize, harmonics: usize, bands: usize, f0_hz: f32) -> Envelope {
    let mut e = Envelope::silent(250.0, 16_000.0, frames, harmonics, bands, f0_hz);
    e.harmonic_amps.fill(0.01);
    e.band_mags.fill(0.01);
    e
}

#[test]
fn process_and_the_voice_controls_never_allocate() {
    let long = envelope(500, 60, 65, 220.0);
    // More harmonics and bands than the renderer plays, and a shorter envelope to swap in.
    let wide = envelope(40, 600, 300, 110.0);
    let malformed = Envelope { harmonic_amps: Vec::new(), ..envelope(10, 4, 4, 100.0) };
    let mut r = Renderer::new();
    r.prepare(48_000.0, 4096);
    let mut out = vec![0.0f32; 4096];
    let mut freqs = [0.0f32; 64];
    let mut amps = [0.0f32; 64];
    let params = RenderParams {
        pitch_steps: 5.0,
        stretch: 1.7,
        anchor: AnchorMode::CentrePartial,
        looping: true,
        update_rate_hz: 30.0,
        bounce: BounceParams { enabled: true, jitter: 0.5, duration_s: 0.3, ..BounceParams::default() },
        ..RenderParams::default()
    };

    COUNTING.with(|c| c.set(true));
    for (i, block) in [1usize, 7, 64, 333, 4096, 128].iter().cycle().take(120).enumerate() {
        let e = match i % 7 {
            3 => &wide,
            5 => &malformed,
            _ => &long,
        };
        let p = RenderParams {
            playback_rate: if i % 11 == 0 { -1.0 } else { 1.0 },
            anchor: if i % 2 == 0 { AnchorMode::ManualHz } else { AnchorMode::FixedF0 },
            start_frame: i % 50,
            ..params
        };
        r.set_transpose_ratio(1.0 + i as f32 * 0.01);
        if i % 13 == 0 {
            r.trigger_bounce();
        }
        if i % 17 == 0 {
            r.restart();
        }
        r.process(e, &p, &mut out[..*block]);
        r.current_partials(&mut freqs, &mut amps);
        r.current_noise_bands(&mut freqs, &mut amps);
        let _ = (r.playhead_frame(), r.is_finished());
    }
    COUNTING.with(|c| c.set(false));

    assert_eq!(allocations(), 0, "the audio path allocated");
    // The counter works: an allocation on this thread is seen.
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert!(allocations() >= 1);
}

/// A model of hidden size `hidden` with random weights (the decoder's cost and paths do not
/// depend on the values).
fn random_model(hidden: usize, frame_rate_hz: u32) -> InstrumentFile {
    let mut weights = DecoderWeights::zeros(hidden);
    let mut rng = Random::new(3);
    for (_, values) in weights.named_mut() {
        values.iter_mut().for_each(|v| *v = 0.2 * rng.bipolar());
    }
    let loudness: Vec<f32> = (0..50).map(|i| -50.0 + i as f32 * 0.5).collect();
    let stats = TrainingStats::from_frames(&[330.0; 50], &[1.0; 50], &loudness, -70.0).unwrap();
    InstrumentFile { name: "random".into(), sample_rate_hz: 16_000, frame_rate_hz, weights, stats }
}

#[test]
fn model_voices_never_allocate_while_playing_switching_models_or_notes() {
    let quick = random_model(32, 50);
    let full = random_model(64, 250);
    let mut voice = ModelVoice::new();
    voice.prepare(48_000.0, 4096);
    let mut bank = VoiceBank::default();
    bank.prepare(44_100.0, 256);
    let csv = envelope(100, 60, 65, 220.0);
    let settings = NoteSettings::default();
    let adsr = AdsrSettings { attack_ms: 3.0, decay_ms: 20.0, sustain: 0.7, release_ms: 15.0 };
    let params = RenderParams {
        stretch: 1.3,
        bounce: BounceParams { enabled: true, ..BounceParams::default() },
        ..RenderParams::default()
    };
    let mut out = vec![0.0f32; 4096];
    let mut mix = vec![0.0f32; 256];
    let mut scratch = vec![0.0f32; 256];

    COUNTING.with(|c| c.set(true));
    for (i, block) in [1usize, 7, 64, 333, 4096, 128].iter().cycle().take(60).enumerate() {
        let model = if i % 3 == 0 { &full } else { &quick };
        if i % 10 == 0 {
            voice.start(model, ModelNote { f0_hz: 220.0 + i as f32, loudness_db: -30.0 });
        }
        voice.process(model, &params, ModelNote { f0_hz: 220.0, loudness_db: -40.0 + i as f32 }, &mut out[..*block]);
        let key = NoteKey { channel: Some(0), note: Some(48 + (i % 30) as u8), voice_id: None };
        if i % 4 == 0 {
            bank.note_on(key, 0.8, &settings);
        } else if i % 4 == 2 {
            bank.note_off(key, &adsr, 44_100.0);
        }
        let sounding = if i % 5 == 0 { Sounding::Csv(&csv) } else { Sounding::Model(model) };
        mix.fill(0.0);
        bank.render_add(sounding, &params, &adsr, 44_100.0, &mut scratch, &mut mix);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(allocations(), 0, "a model voice allocated");
}
