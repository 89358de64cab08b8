//! CPU cost of the plugin's voice rendering, as `process` runs it: 48 kHz, 512-sample host
//! blocks (cut into the plugin's 256-sample sub-blocks), with 1 and 16 sounding voices playing
//! an envelope of DDSP's default size (60 harmonics, 65 noise bands, 250 frames per second).
//!
//! Model mode (SPEC §9) the same way: the built-in model (hidden 64, 50 frames/s), a model of
//! the `quick` preset's size (hidden 128, 50 frames/s) and of the `full` preset's (hidden 512,
//! 250 frames/s), each voice decoding its own frames.
//!
//! Run: `cargo bench -p ddsp-plugin --bench voices`. Per-voice CPU = time per block / voices /
//! block duration (512 / 48 000 s = 10.67 ms).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ddsp_plugin::adsr::AdsrSettings;
use ddsp_plugin::state::{parse_model, BUILTIN_MODEL};
use ddsp_plugin::voice::{NoteKey, NoteSettings, Sounding, VoiceBank};
use ddsp_plugin::MAX_BLOCK_SIZE;
use ddsp_shared::instrument::file::InstrumentFile;
use ddsp_shared::instrument::weights::DecoderWeights;
use ddsp_shared::render::RenderParams;
use ddsp_shared::Envelope;

const SAMPLE_RATE_HZ: f32 = 48_000.0;
const HOST_BLOCK: usize = 512;

fn ddsp_sized_envelope() -> Envelope {
    let mut envelope = Envelope::silent(250.0, 16_000.0, 1_000, 60, 65, 196.0);
    for (i, amp) in envelope.harmonic_amps.iter_mut().enumerate() {
        *amp = 0.02 / (1 + i % 60) as f32;
    }
    envelope.band_mags.fill(0.001);
    envelope
}

fn bench_voices(c: &mut Criterion) {
    let envelope = ddsp_sized_envelope();
    let looping = RenderParams { stretch: 1.3, looping: true, ..RenderParams::default() };
    let mut group = c.benchmark_group("process_512_samples_48k");
    for voices in [1usize, 16] {
        bench_block(&mut group, "csv", Sounding::Csv(&envelope), &looping, voices);
    }
    group.finish();
}

/// Times one host block of `voices` sounding notes of `sounding`.
fn bench_block(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    sounding: Sounding<'_>,
    params: &RenderParams,
    voices: usize,
) {
    let adsr = AdsrSettings::default();
    let settings = NoteSettings::default();
    let mut bank = VoiceBank::default();
    bank.prepare(SAMPLE_RATE_HZ, MAX_BLOCK_SIZE);
    let mut scratch = [0.0f32; MAX_BLOCK_SIZE];
    let mut mix = [0.0f32; MAX_BLOCK_SIZE];
    for v in 0..voices {
        bank.note_on(NoteKey { channel: Some(0), note: Some(48 + v as u8), voice_id: None }, 1.0, &settings);
    }
    // Past the attack, so every voice is at its sustained level.
    for _ in 0..100 {
        bank.render_add(sounding, params, &adsr, SAMPLE_RATE_HZ, &mut scratch, &mut mix);
    }
    group.bench_function(BenchmarkId::new(name, format!("{voices}_voices")), |b| {
        b.iter(|| {
            for _ in 0..HOST_BLOCK / MAX_BLOCK_SIZE {
                mix.fill(0.0);
                bank.render_add(sounding, params, &adsr, SAMPLE_RATE_HZ, &mut scratch, &mut mix);
            }
            std::hint::black_box(&mix);
        });
    });
}

fn bench_model_voices(c: &mut Criterion) {
    let builtin = parse_model(BUILTIN_MODEL, "built-in").unwrap();
    let quick = InstrumentFile { weights: DecoderWeights::seeded(128, 7), frame_rate_hz: 50, ..builtin.clone() };
    let full = InstrumentFile { weights: DecoderWeights::seeded(512, 7), frame_rate_hz: 250, ..builtin.clone() };
    let params = RenderParams { stretch: 1.3, ..RenderParams::default() };
    let mut group = c.benchmark_group("model_process_512_samples_48k");
    for voices in [1, 16] {
        bench_block(&mut group, "builtin", Sounding::Model(&builtin), &params, voices);
        bench_block(&mut group, "quick", Sounding::Model(&quick), &params, voices);
    }
    bench_block(&mut group, "full", Sounding::Model(&full), &params, 1);
    group.finish();
}

criterion_group!(benches, bench_voices, bench_model_voices);
criterion_main!(benches);
