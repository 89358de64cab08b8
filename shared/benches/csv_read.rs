//! Reading speed of the unified CSV, in MB/s of text (target: at least 100 MB/s). The reader
//! parses rows on two threads once a file is over a megabyte, so this is the speed of the
//! whole machine's reading, two cores where there are two.
//!
//! The input is generated in memory, so the figure is parsing alone (no disk): 6000 frames at
//! 250.57 frames/s (24 s of sound) of 60 harmonics + 65 noise bands, about 30 MB, in two
//! number styles: the shortest-`f32` text this project's writer produces, and the 17-digit
//! `float64` text of the original Python exporter.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddsp_shared::envelope::linear_band_centre_hz;
use ddsp_shared::unified_csv::{read_from, to_string};
use ddsp_shared::Envelope;
use std::fmt::Write as _;
use std::hint::black_box;

const FRAMES: usize = 6000;
const HARMONICS: usize = 60;
const BANDS: usize = 65;

/// A vibrato'd, decaying harmonic tone with a breathy noise floor: numbers of every magnitude
/// a real analysis produces.
fn realistic_envelope() -> Envelope {
    let mut env = Envelope::silent(250.57, 44100.0, FRAMES, HARMONICS, BANDS, 0.0);
    for frame in 0..FRAMES {
        let t = frame as f32 / 250.57;
        let f0 = 196.0 * (1.0 + 0.01 * (t * 5.5 * std::f32::consts::TAU).sin());
        env.f0_hz[frame] = f0;
        for k in 0..HARMONICS {
            let slot = frame * HARMONICS + k;
            env.harmonic_freqs_hz[slot] = f0 * (k + 1) as f32 * (1.0 + 1e-4 * ((k * 7 + frame) % 13) as f32);
            env.harmonic_amps[slot] = 0.3 / (k + 1) as f32 * (-(t % 3.0)).exp() * (1.0 + 0.1 * (frame % 7) as f32);
        }
        for b in 0..BANDS {
            let slot = frame * BANDS + b;
            env.band_centres_hz[slot] = linear_band_centre_hz(b, BANDS, 44100.0);
            env.band_mags[slot] = 1e-3 * (-(b as f32) / 20.0).exp() * (1.0 + 0.3 * ((frame + b) % 5) as f32);
        }
    }
    env
}

/// The same rows with every number printed as Python prints a `float64` (17 significant digits).
fn python_style(env: &Envelope) -> String {
    let mut text = String::from(
        "# frame_rate=250.57,sample_rate=44100\nframe_index,f0_hz,component_type,component_index,frequency,value\n",
    );
    for frame in 0..env.frame_count() {
        let f0 = f64::from(env.f0_hz[frame]);
        for k in 0..HARMONICS {
            let (freq, amp) = (env.harmonic_freqs(frame)[k], env.harmonic_amps(frame)[k]);
            writeln!(text, "{frame},{f0:.17},harmonic,{k},{:.17},{:.17e}", f64::from(freq), f64::from(amp)).unwrap();
        }
        for b in 0..BANDS {
            let (centre, mag) = (env.band_centres(frame)[b], env.band_mags(frame)[b]);
            writeln!(text, "{frame},{f0:.17},noise_band,{b},{:.17},{:.17e}", f64::from(centre), f64::from(mag))
                .unwrap();
        }
    }
    text
}

fn bench_read(c: &mut Criterion) {
    let env = realistic_envelope();
    let inputs = [("rust_writer", to_string(&env).unwrap()), ("python_float64", python_style(&env))];
    let mut group = c.benchmark_group("csv_read");
    group.sample_size(10);
    for (name, text) in &inputs {
        eprintln!("csv_read/{name}: {:.1} MB, {} frames", text.len() as f64 / 1e6, FRAMES);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(*name, |b| b.iter(|| read_from(black_box(text.as_bytes())).unwrap()));
    }
    group.finish();

    let mut group = c.benchmark_group("csv_write");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(inputs[0].1.len() as u64));
    group.bench_function("rust_writer", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(inputs[0].1.len());
            ddsp_shared::unified_csv::write_to(black_box(&env), &mut out).unwrap();
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
