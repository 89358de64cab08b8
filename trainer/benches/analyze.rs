//! Speed of the audio front end (f0, loudness, and the whole `ddsp analyze` analysis without
//! file I/O) on a real recording (examples/violin_phrase_44k.wav), reported
//! as time per second of audio: divide 1 s by it for the real-time factor.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddsp_trainer::analyze::{analyze, AnalysisConfig};
use ddsp_trainer::audio::decode::read_audio_mono;
use ddsp_trainer::features::f0::{estimate_f0_on_grid, F0Config};
use ddsp_trainer::features::frames::FrameGrid;
use ddsp_trainer::features::loudness::loudness_on_grid;

/// Seconds of the recording each iteration processes.
const EXCERPT_S: usize = 4;

fn excerpt() -> (Vec<f32>, u32) {
    // DDSP_BENCH_WAV lets the bench binary run on another machine (or on another recording).
    let path = std::env::var_os("DDSP_BENCH_WAV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/violin_phrase_44k.wav"));
    let (samples, sr) = read_audio_mono(&path).expect("example recording");
    let n = (EXCERPT_S * sr as usize).min(samples.len());
    (samples[..n].to_vec(), sr)
}

fn features(c: &mut Criterion) {
    let (samples, sr) = excerpt();
    let grid = FrameGrid::nearest(sr, 250.0).unwrap();
    let mut group = c.benchmark_group("features_4s_violin_44k");
    group.throughput(Throughput::Elements(EXCERPT_S as u64));
    group.sample_size(10);
    group.bench_function("f0", |b| b.iter(|| estimate_f0_on_grid(&samples, &grid, &F0Config::default())));
    group.bench_function("loudness", |b| b.iter(|| loudness_on_grid(&samples, &grid, 2048)));
    group.bench_function("analyze_60h_65b", |b| {
        b.iter(|| analyze(&samples, &grid, &AnalysisConfig::default(), |_, _| {}))
    });
    group.finish();
}

criterion_group!(benches, features);
criterion_main!(benches);
