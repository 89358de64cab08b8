//! Seconds per training step of the `quick` and `full` presets on the CPU (Flex backend),
//! on synthetic data of the preset's shapes. `full` is DDSP's solo instrument (GRU 512,
//! 250 frames/s, batch 16 x 4 s). The peer is `benches/peers/train_step_torch.py`: the same
//! model, synthesiser, loss and batch in PyTorch.
//! Measured side by side on a 2-core AMD EPYC (AVX2, 2026-12-06): quick 0.183 s (PyTorch
//! 2.15: 0.212 s), full 6.99 s (PyTorch: 5.50 s) per step.
//!
//! `cargo bench -p ddsp-trainer --bench train_step` (set `DDSP_BENCH_FULL=0` to skip `full`,
//! which takes minutes on 2 cores).

use burn::tensor::Device;
use criterion::{criterion_group, criterion_main, Criterion};
use ddsp_trainer::train::config::{Preset, TrainConfig};
use ddsp_trainer::train::data::Batch;
use ddsp_trainer::train::training::Trainer;

fn synthetic_batch(config: &TrainConfig) -> Batch {
    let b = config.batch_size;
    let t = config.example_frames();
    let n = config.example_samples();
    let sr = config.sample_rate_hz as f32;
    let mut audio = Vec::with_capacity(b * n);
    for e in 0..b {
        let f0 = 196.0 * (1.0 + e as f32 / 8.0);
        audio.extend((0..n).map(|i| {
            let p = std::f32::consts::TAU * f0 * i as f32 / sr;
            0.3 * (p.sin() + 0.5 * (2.0 * p).sin() + 0.25 * (3.0 * p).sin())
        }));
    }
    Batch {
        size: b,
        f0_hz: (0..b * t).map(|i| 196.0 * (1.0 + (i / t) as f32 / 8.0)).collect(),
        loudness_db: vec![-25.0; b * t],
        audio,
    }
}

fn bench_preset(c: &mut Criterion, preset: Preset, samples: usize) {
    let config = TrainConfig::preset(preset);
    let batch = synthetic_batch(&config);
    let mut trainer = Trainer::new(config.clone(), &Device::flex());
    let mut step = 0u64;
    let mut group = c.benchmark_group("train_step");
    group.sample_size(samples);
    group.bench_function(format!("{preset:?}").to_lowercase(), |bench| {
        bench.iter(|| {
            step += 1;
            trainer.step(&batch, step, config.learning_rate).unwrap()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_preset(c, Preset::Quick, 20);
    if std::env::var("DDSP_BENCH_FULL").map_or(true, |v| v != "0") {
        bench_preset(c, Preset::Full, 10);
    }
}

criterion_group! {
    name = train_step;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(20));
    targets = benches
}
criterion_main!(train_step);
