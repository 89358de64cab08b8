//! The real-time decoder (SPEC §9): the cost of one frame, held and moving, at the built-in model's size
//! (hidden 64), the `quick` preset's (128) and the `full` preset's (512), and of one model
//! voice (decoder + renderer) producing one second at 48 kHz in 512-sample blocks at the
//! presets' frame rates (50 and 250 frames per second).
//!
//! Run: `cargo bench -p ddsp-shared --bench decoder`. CPU share of one voice = time per
//! iteration / 1 s.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ddsp_shared::instrument::decoder::{DecodedFrame, Decoder};
use ddsp_shared::instrument::file::InstrumentFile;
use ddsp_shared::instrument::stats::TrainingStats;
use ddsp_shared::instrument::voice::{ModelNote, ModelVoice};
use ddsp_shared::instrument::weights::DecoderWeights;
use ddsp_shared::render::RenderParams;

const SAMPLE_RATE_HZ: f32 = 48_000.0;
const BLOCK: usize = 512;

/// A model of the given size with initialisation-scale weights and a violin-like range.
fn model(hidden: usize, frame_rate_hz: u32) -> InstrumentFile {
    let f0: Vec<f32> = (0..1000).map(|i| 196.0 * 2f32.powf(i as f32 / 400.0)).collect();
    let loudness: Vec<f32> = (0..1000).map(|i| -50.0 + 0.03 * i as f32).collect();
    InstrumentFile {
        name: format!("bench {hidden}"),
        sample_rate_hz: 16_000,
        frame_rate_hz,
        weights: DecoderWeights::seeded(hidden, 7),
        stats: TrainingStats::from_frames(&f0, &vec![1.0; 1000], &loudness, -60.0).unwrap(),
    }
}

fn bench(c: &mut Criterion) {
    // "held": the same f0 and loudness every frame (a sustained note; the input stacks are
    // kept); "moving": both change every frame (vibrato and a swell; everything recomputed).
    let mut group = c.benchmark_group("decode_one_frame");
    for hidden in [64, 128, 512] {
        let weights = DecoderWeights::seeded(hidden, 7);
        for moving in [false, true] {
            let mut decoder = Decoder::new();
            let mut frame = DecodedFrame::default();
            let mut i = 0u32;
            let name = format!("{}_hidden_{hidden}", if moving { "moving" } else { "held" });
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    i = i.wrapping_add(u32::from(moving));
                    let step = (i % 20) as f32;
                    decoder.decode(&weights, 16_000.0, 440.0 + step, -30.0 + step, &mut frame);
                    black_box(&frame);
                });
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("model_voice_one_second_48k");
    group.sample_size(20);
    for (preset, hidden, frame_rate_hz) in [("quick", 128, 50), ("full", 512, 250)] {
        let model = model(hidden, frame_rate_hz);
        let params = RenderParams::default();
        let note = ModelNote { f0_hz: 330.0, loudness_db: -25.0 };
        let mut voice = ModelVoice::new();
        voice.prepare(SAMPLE_RATE_HZ, BLOCK);
        voice.start(&model, note);
        let mut block = [0.0f32; BLOCK];
        group.bench_with_input(BenchmarkId::from_parameter(preset), &preset, |b, _| {
            b.iter(|| {
                for _ in 0..SAMPLE_RATE_HZ as usize / BLOCK {
                    voice.process(&model, &params, note, &mut block);
                    black_box(&block);
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
