//! Shared by the `cli_tools_*` end-to-end tests: run the real `ddsp` binary, scratch folders,
//! the example data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ddsp_shared::Envelope;

#[allow(unused_imports)] // each test binary uses some of them
pub use ddsp_tests::cli::{ddsp_err_in as ddsp_err, ddsp_in, ddsp_ok_in as ddsp_ok, repo_root};

/// A fresh, empty folder for one test, removed when the value is dropped.
pub fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("ddsp-cli-tools-{name}-")).tempdir().expect("scratch folder")
}

/// A numpy-written fixture archive (trainer/tests/fixtures/npz).
pub fn npz_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npz").join(name)
}

/// Reads a unified CSV or panics with the reader's message.
pub fn read_csv(path: &Path) -> Envelope {
    ddsp_shared::unified_csv::read_path(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The example violin CSV (made from examples/violin_phrase_44k.wav by `ddsp analyze`).
pub fn violin_csv() -> PathBuf {
    repo_root().join("examples/violin_phrase.csv")
}

/// A DDSP-like unified CSV of real audio: `ddsp analyze` of examples/flute_phrase_44k.wav at
/// DDSP's 16 kHz model rate (8 kHz bandwidth, 60 harmonics, 65 noise bands, 250 Hz frames),
/// cut to its first 4 s (one chunk of the original exporter, and quick to test), made once
/// per test binary.
pub fn flute_16k_csv() -> PathBuf {
    static CSV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CSV.get_or_init(|| {
        // In cargo's scratch folder for integration tests: made once per test binary run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flute-16k");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let wav = repo_root().join("examples/flute_phrase_44k.wav");
        ddsp_ok(&dir, &["analyze", wav.to_str().unwrap(), "--sample-rate", "16000", "-o", "whole.csv"]);
        let whole = read_csv(&dir.join("whole.csv"));
        let frames = (4.0 * whole.frame_rate_hz) as usize;
        let chunk = whole.slice_frames(0..frames);
        let path = dir.join("flute_16k_4s.csv");
        ddsp_shared::unified_csv::write_path(&chunk, &path).unwrap();
        let _ = std::fs::remove_file(dir.join("whole.csv"));
        path
    })
    .clone()
}

/// Mono render of `env` at `sample_rate_hz` with default controls, through the shared
/// renderer the plugin plays with.
pub fn render(env: &Envelope, sample_rate_hz: f32) -> Vec<f32> {
    use ddsp_shared::render::{RenderParams, Renderer};
    let mut renderer = Renderer::new();
    renderer.prepare(sample_rate_hz, 1024);
    let samples = (env.duration_s() * f64::from(sample_rate_hz)) as usize;
    let mut out = vec![0.0f32; samples];
    for block in out.chunks_mut(1024) {
        renderer.process(env, &RenderParams::default(), block);
    }
    out
}

/// Energy of `signal` in `lo_hz..hi_hz`, summed over 4096-sample Hann-windowed frames.
pub fn band_energy(signal: &[f32], sample_rate_hz: f32, lo_hz: f32, hi_hz: f32) -> f64 {
    use realfft::RealFftPlanner;
    const N: usize = 4096;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N);
    let window: Vec<f32> =
        (0..N).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N as f32).cos()).collect();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let bin_hz = sample_rate_hz / N as f32;
    let mut energy = 0.0f64;
    for frame in signal.chunks_exact(N) {
        for (x, (s, w)) in input.iter_mut().zip(frame.iter().zip(&window)) {
            *x = s * w;
        }
        fft.process(&mut input, &mut spectrum).unwrap();
        for (k, c) in spectrum.iter().enumerate() {
            let f = k as f32 * bin_hz;
            if f >= lo_hz && f < hi_hz {
                energy += f64::from(c.norm_sqr());
            }
        }
    }
    energy
}
