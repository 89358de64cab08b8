//! One voice of the renderer: 60 harmonics + 65 noise bands at 48 kHz, one second of audio per
//! iteration, in 512-sample blocks (a typical plugin block). Target (issue 2): one second of
//! audio in under 1 ms on one core (1000x real time), so 16 voices cost under 2 % of a core.
//!
//! Run: `cargo bench -p ddsp-shared --bench render_voice`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ddsp_shared::render::{AnchorMode, BounceParams, RenderParams, Renderer};
use ddsp_shared::Envelope;

const SAMPLE_RATE_HZ: f32 = 48_000.0;
const BLOCK: usize = 512;

/// Four seconds of a moving 60-harmonic, 65-band envelope at 250 frames/s, like a trained
/// model's export.
fn envelope() -> Envelope {
    let frames = 1000;
    let mut e = Envelope::silent(250.0, 16_000.0, frames, 60, 65, 196.0);
    for i in 0..frames {
        let f0 = 196.0 * (1.0 + 0.01 * (i as f32 * 0.05).sin());
        e.f0_hz[i] = f0;
        for k in 0..60 {
            e.harmonic_freqs_hz[i * 60 + k] = f0 * (k + 1) as f32;
            e.harmonic_amps[i * 60 + k] = 0.02 / (k + 1) as f32;
        }
        for b in 0..65 {
            e.band_mags[i * 65 + b] = 0.001 * (1.0 + (b as f32 * 0.1).cos());
        }
    }
    e
}

fn one_second(renderer: &mut Renderer, envelope: &Envelope, params: &RenderParams, block: &mut [f32]) {
    for _ in 0..(SAMPLE_RATE_HZ as usize / BLOCK) {
        renderer.process(envelope, params, block);
        black_box(&block);
    }
}

fn bench(c: &mut Criterion) {
    let envelope = envelope();
    let mut group = c.benchmark_group("render_voice_60h_65b_48k");
    group.throughput(Throughput::Elements(SAMPLE_RATE_HZ as u64));
    let cases = [
        ("identity", RenderParams { looping: true, ..RenderParams::default() }),
        (
            "pitch_and_stretch",
            RenderParams { looping: true, pitch_steps: 5.0, stretch: 1.5, ..RenderParams::default() },
        ),
        (
            "bounce_centre_anchor",
            RenderParams {
                looping: true,
                anchor: AnchorMode::CentrePartial,
                bounce: BounceParams { enabled: true, jitter: 0.5, ..BounceParams::default() },
                ..RenderParams::default()
            },
        ),
    ];
    for (name, params) in cases {
        let mut renderer = Renderer::new();
        renderer.prepare(SAMPLE_RATE_HZ, BLOCK);
        let mut block = vec![0.0f32; BLOCK];
        group.bench_function(name, |b| b.iter(|| one_second(&mut renderer, &envelope, &params, &mut block)));
    }
    // Where the time goes: the same envelope with only its harmonics, only its noise.
    let mut harmonics_only = envelope.clone();
    harmonics_only.band_mags.fill(0.0);
    let mut noise_only = envelope.clone();
    noise_only.harmonic_amps.fill(0.0);
    for (name, envelope) in [("identity_harmonics_only", &harmonics_only), ("identity_noise_only", &noise_only)] {
        let params = RenderParams { looping: true, ..RenderParams::default() };
        let mut renderer = Renderer::new();
        renderer.prepare(SAMPLE_RATE_HZ, BLOCK);
        let mut block = vec![0.0f32; BLOCK];
        group.bench_function(name, |b| b.iter(|| one_second(&mut renderer, envelope, &params, &mut block)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
