//! End-to-end checks of `ddsp train`, `--resume`, Ctrl-C and `ddsp export` through the real
//! binary on a real WAV file (a synthetic violin-like tone, so the test needs no download).
//! Sizes are tiny (hidden 16, 1 s examples at 50 frames/s) so the whole file runs in seconds.

use std::path::Path;
use std::process::Command;

use ddsp_tests::cli::{ddsp_command, scratch, TINY_TRAINING};
use ddsp_trainer::envelope_archive::EnvelopeArchive;
use ddsp_trainer::train::inference::Instrument;
use ddsp_trainer::train::training::RunPaths;

/// `ddsp train WAV --out RUN --steps STEPS --no-export`; tests add `TINY`, `--resume` and the like.
fn train(wav: &Path, run: &Path, steps: usize) -> Command {
    let mut command = ddsp_command();
    command.arg("train").arg(wav).arg("--out").arg(run).args(["--steps", &steps.to_string(), "--no-export"]);
    command
}

/// 6 s at 22.05 kHz (so the trainer resamples): a 5-harmonic tone gliding 220 → 330 Hz with
/// vibrato, a swelling envelope, breath noise, and a silent second at the end.
fn write_tone(path: &Path) {
    let sr = 22050u32;
    let spec =
        hound::WavSpec { channels: 1, sample_rate: sr, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut phase = 0.0f64;
    let mut noise_state = 1u32;
    for n in 0..6 * sr {
        let t = n as f64 / sr as f64;
        let voiced = t < 5.0;
        let f0 = 220.0 * (1.0 + 0.5 * (t / 5.0).min(1.0)) * (1.0 + 0.01 * (std::f64::consts::TAU * 5.5 * t).sin());
        phase += std::f64::consts::TAU * f0 / sr as f64;
        let env = if voiced { 0.3 * (0.6 + 0.4 * (std::f64::consts::TAU * 0.5 * t).sin()) } else { 0.0 };
        let tone: f64 = (1..=5).map(|k| (k as f64 * phase).sin() / k as f64).sum();
        noise_state = noise_state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (noise_state >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
        let s = env * (tone + 0.05 * noise);
        w.write_sample((s * 32767.0 * 0.8) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// The model of every run here.
const TINY: [&str; 14] = TINY_TRAINING;

fn losses(run: &Path) -> Vec<(usize, f32)> {
    let text = std::fs::read_to_string(run.join("loss.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn tiny_run_lowers_the_loss_resumes_and_exports() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("tone.wav");
    write_tone(&wav);
    let run = dir.join("run");

    let out = train(&wav, &run, 60).args(TINY).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The banner names the preset and the other choice; an estimate follows the first steps.
    assert!(stderr.contains("preset quick") && stderr.contains("--preset full"), "{stderr}");
    assert!(stderr.contains("estimate:") && stderr.contains("for the 54 steps left"), "{stderr}");
    for f in ["config.json", "model.bpk", "checkpoint.bin", "loss.csv", "loss.png", "features.cache"] {
        assert!(run.join(f).is_file(), "{f} missing; {stderr}");
    }
    let log = losses(&run);
    assert_eq!(log.iter().map(|e| e.0).collect::<Vec<_>>(), (1..=60).collect::<Vec<_>>());
    let first: f32 = log[..5].iter().map(|e| e.1).sum::<f32>() / 5.0;
    let last: f32 = log[55..].iter().map(|e| e.1).sum::<f32>() / 5.0;
    assert!(last < 0.9 * first, "loss must fall: first {first}, last {last}");

    // A second run without --resume must not clobber the model.
    let again = ddsp_command().args(["train", wav.to_str().unwrap(), "--out", run.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    // Resume: the step count continues and the logged history is kept.
    let out = train(&wav, &run, 70).arg("--resume").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("reusing"), "features must come from the cache: {stderr}");
    let resumed = losses(&run);
    assert_eq!(resumed.len(), 70);
    assert_eq!(&resumed[..60], &log[..]);
    assert_eq!(resumed[69].0, 70);
    assert!(
        resumed[60..].iter().map(|e| e.1).sum::<f32>() / 10.0 < first,
        "resumed run must start from the trained model"
    );

    // --resume with nothing left to do says so instead of exiting 0 idle.
    let out = train(&wav, &run, 70).arg("--resume").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("already trained 70 of 70 steps"), "{stderr}");
    // --resume refuses other recordings, and the same name with other contents...
    let other = dir.join("other.wav");
    std::fs::copy(&wav, &other).unwrap();
    let out = train(&other, &run, 71).arg("--resume").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("trained on") && stderr.contains("other.wav"), "{stderr}");
    let original = std::fs::read(&wav).unwrap();
    let mut changed = original.clone();
    *changed.last_mut().unwrap() ^= 1;
    std::fs::write(&wav, &changed).unwrap();
    let out = train(&wav, &run, 71).arg("--resume").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("has changed"), "{stderr}");
    std::fs::write(&wav, &original).unwrap();
    // ...and keeps the run's files as they were.
    assert_eq!(losses(&run).len(), 70);
    assert!(std::fs::read_to_string(run.join("inputs.json")).unwrap().contains("tone.wav"));

    // Export: npz keys and shapes, previews, CSVs, report.
    let out = ddsp_command().args(["export", "--run", run.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let folder = run.join("export").join("tone");
    // 6 s at 4 s per chunk: two chunks.
    for c in ["chunk_00", "chunk_01"] {
        let npz = EnvelopeArchive::read(&folder.join(format!("{c}_envelopes.npz"))).unwrap();
        assert_eq!((npz.harmonic_count, npz.noise_band_count), (60, 65));
        assert_eq!(npz.sample_rate_hz, 16000.0);
        assert_eq!(npz.frame_rate_hz, 50.0);
        let frames = npz.frame_count();
        assert_eq!(npz.f0_hz_frames.len(), frames);
        assert_eq!(npz.noise_magnitudes_frames.len(), frames * 65);
        assert_eq!(npz.row_count(), frames * 320, "sample resolution, as the original");
        for suffix in ["1oscbank", "1noise", "1oscbank_noise"] {
            let reader = hound::WavReader::open(folder.join(format!("{c}_{suffix}.wav"))).unwrap();
            assert_eq!(reader.spec().sample_rate, 16000);
            // The chunk's frames, then the offline render's release tail (ending on a tick).
            let tail = (ddsp_shared::render::offline::RELEASE_TAIL_S * 16000.0) as usize;
            let extra = reader.duration() as usize - frames * 320;
            assert!(
                (tail..=tail + 2 * ddsp_shared::render::control_tick_samples(16000.0)).contains(&extra),
                "{c}_{suffix}: {extra}"
            );
        }
        let csv = ddsp_shared::unified_csv::read_path(&folder.join(format!("{c}_unified.csv"))).unwrap();
        assert_eq!(csv.frame_count(), frames);
    }
    let first_chunk = EnvelopeArchive::read(&folder.join("chunk_00_envelopes.npz")).unwrap();
    assert_eq!(first_chunk.frame_count(), 200);
    let whole = ddsp_shared::unified_csv::read_path(&folder.join("tone_unified.csv")).unwrap();
    assert_eq!(whole.frame_count(), 300);
    assert_eq!((whole.harmonic_count, whole.noise_band_count), (60, 65));
    // The model hears the tone: harmonics sound where the tone plays, over 200 Hz.
    assert!(whole.f0_hz[50] > 200.0 && whole.f0_hz[50] < 300.0, "f0 {}", whole.f0_hz[50]);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
    assert!(std::fs::read_to_string(run.join("report.md")).unwrap().contains("tone.wav"));

    // Thinned CSV through the export options.
    let out = ddsp_command()
        .args([
            "export",
            "--run",
            run.to_str().unwrap(),
            "--frame-step",
            "2",
            "--max-harmonics",
            "10",
            "--max-noise-bands",
            "8",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let thin = ddsp_shared::unified_csv::read_path(&folder.join("tone_unified.csv")).unwrap();
    assert_eq!((thin.frame_count(), thin.harmonic_count, thin.noise_band_count), (150, 10, 8));

    transfer_moves_a_low_melody_into_the_trained_range(&run, dir);
}

/// `ddsp transfer`'s auto-adjust (the DDSP notebook's): a melody two octaves below the 220-330
/// Hz the run was trained on is sung two octaves up, and `--autotune 1` puts a note 40 cents
/// off its neighbours' tuning onto their grid; `--no-auto-adjust` leaves the melody where it was.
fn transfer_moves_a_low_melody_into_the_trained_range(run: &Path, dir: &Path) {
    // Three notes around 69 Hz, at 0 and +40 cents, with gaps of silence between.
    let sr = 16_000u32;
    let mut melody = Vec::new();
    let mut phase = 0.0f64;
    for cents in [0.0f64, 40.0, 0.0] {
        let f0 = 69.0 * (cents / 1200.0).exp2();
        for n in 0..sr {
            phase += std::f64::consts::TAU * f0 / f64::from(sr);
            let swell = (std::f64::consts::PI * f64::from(n) / f64::from(sr)).sin();
            melody.push((0.3 * swell * (1..=5).map(|k| (k as f64 * phase).sin() / k as f64).sum::<f64>()) as f32);
        }
        melody.extend(std::iter::repeat_n(0.0, sr as usize / 2));
    }
    let melody_wav = dir.join("low_melody.wav");
    ddsp_tests::wav::write_wav_f32(&melody_wav, &melody, sr);
    let median_note_f0 = |csv: &Path, from_s: f64, to_s: f64| -> f32 {
        let env = ddsp_shared::unified_csv::read_path(csv).unwrap();
        let mut f0: Vec<f32> = (0..env.frame_count())
            .filter(|&i| (from_s..to_s).contains(&env.frame_time_s(i)))
            .map(|i| env.f0_hz[i])
            .collect();
        f0.sort_by(f32::total_cmp);
        f0[f0.len() / 2]
    };
    let transfer = |name: &str, extra: &[&str]| -> (std::path::PathBuf, String) {
        let wav = dir.join(format!("{name}.wav"));
        let out = ddsp_command()
            .args([
                "transfer",
                "--run",
                run.to_str().unwrap(),
                melody_wav.to_str().unwrap(),
                "-o",
                wav.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (wav.with_extension("csv"), stderr)
    };
    let cents = |a: f32, b: f32| 1200.0 * (a / b).log2();

    let (adjusted, said) = transfer("adjusted", &[]);
    assert!(said.contains("moved 2 octaves up"), "{said}");
    let first = median_note_f0(&adjusted, 0.3, 0.7);
    assert!(cents(first, 4.0 * 69.0).abs() < 15.0, "first note sung at {first} Hz, expected 276");

    let (tuned, _) = transfer("tuned", &["--autotune", "1"]);
    let (a, b) = (median_note_f0(&tuned, 0.3, 0.7), median_note_f0(&tuned, 1.8, 2.2));
    assert!(cents(b, a).abs() < 5.0, "autotuned: the +40 cent note is {:.1} cents off the first", cents(b, a));
    let (untuned, _) = transfer("untuned", &[]);
    let (a, b) = (median_note_f0(&untuned, 0.3, 0.7), median_note_f0(&untuned, 1.8, 2.2));
    assert!((cents(b, a) - 40.0).abs() < 10.0, "without autotune the note keeps its 40 cents: {:.1}", cents(b, a));

    let (raw, said) = transfer("raw", &["--no-auto-adjust"]);
    assert!(!said.contains("auto-adjust:"), "{said}");
    let first = median_note_f0(&raw, 0.3, 0.7);
    assert!(cents(first, 69.0).abs() < 15.0, "unadjusted: {first} Hz, expected 69");
}

/// `--reverb`: the learned room is written as a WAV that any convolution reverb loads (the
/// model's own impulse response, first tap 0), and the report scores the resynthesis both dry
/// and through that room.
#[test]
fn a_reverb_run_writes_its_room_and_scores_with_and_without_it() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("tone.wav");
    write_tone(&wav);
    let run = dir.join("run");
    let out = ddsp_command()
        .arg("train")
        .arg(&wav)
        .arg("--out")
        .arg(&run)
        .args(["--steps", "3", "--reverb", "--reverb-s", "0.25"])
        .args(TINY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("room_ir.wav"), "the summary names the room: {stderr}");

    let (ir, rate, channels) = ddsp_trainer::wav_io::read_wav_f32(&run.join("room_ir.wav")).unwrap();
    assert_eq!((rate, channels), (16000, 1));
    assert_eq!(ir.len(), 4000, "0.25 s at the model rate");
    assert_eq!(ir[0], 0.0, "the dry path is not in the room");
    let instrument = Instrument::load(&RunPaths::new(&run)).unwrap();
    let learned: Vec<f32> =
        instrument.model.reverb.unwrap().ir.val().into_data().convert::<f32>().try_to_vec().unwrap();
    assert_eq!(&ir[1..], &learned[1..], "the WAV holds the learned response");
    assert!(ir.iter().any(|&s| s != 0.0));

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let file = &report["files"][0];
    let dry = file["eval"]["spectral_distance"].as_f64().unwrap();
    let wet = file["eval_with_room"]["spectral_distance"].as_f64().unwrap();
    assert!(dry > 0.0 && wet > 0.0, "dry {dry}, with room {wet}");
    // Beside them, `ddsp analyze`'s resynthesis of the same input, for scale.
    let analysis = file["eval_analysis"]["spectral_distance"].as_f64().unwrap();
    assert!(analysis > 0.0 && analysis != dry, "analysis {analysis}");
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.contains(
            "| measure | dry (the exported envelopes) | with the learned room (`room_ir.wav`) | `ddsp analyze` (no \
             training, for scale) |"
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!("| multi-scale spectral distance (DDSP loss) | {dry:.4} | {wet:.4} | {analysis:.4} |")),
        "{md}"
    );
    assert!(md.contains(&format!("is at {:.2}x the spectral distance of `ddsp analyze`'s", dry / analysis)), "{md}");
}

#[test]
fn same_seed_gives_the_same_run() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("tone.wav");
    write_tone(&wav);
    let mut logs = Vec::new();
    for name in ["a", "b"] {
        let run = dir.join(name);
        let out = train(&wav, &run, 5).args(TINY).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        logs.push(losses(&run));
    }
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn bad_inputs_get_clear_errors() {
    let scratch = scratch();
    let dir = scratch.path();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = ddsp_command()
        .args(["train", empty.to_str().unwrap(), "--out", dir.join("r").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no audio found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let short = dir.join("short.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&short, spec).unwrap();
    for n in 0..8000 {
        w.write_sample(((n as f32 * 0.1).sin() * 8000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let out = ddsp_command()
        .args(["train", short.to_str().unwrap(), "--out", dir.join("r").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("too short"), "{stderr}");

    let silent = dir.join("silent.wav");
    let mut w = hound::WavWriter::create(&silent, spec).unwrap();
    for _ in 0..16000 * 5 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let out = ddsp_command()
        .args(["train", silent.to_str().unwrap(), "--out", dir.join("r").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("silent"), "{stderr}");
    // None of the failed runs left its folder behind.
    assert!(!dir.join("r").exists());

    // A folder that holds other things is not made a run folder.
    let busy = dir.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("thesis.tex"), "chapter 1").unwrap();
    let out =
        ddsp_command().args(["train", short.to_str().unwrap(), "--out", busy.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("other files") && stderr.contains("thesis.tex"), "{stderr}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_a_final_checkpoint() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("tone.wav");
    write_tone(&wav);
    let run = dir.join("run");
    let child = train(&wav, &run, 100000).args(TINY).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Wait for the first checkpoint (step 10), then interrupt.
    let start = std::time::Instant::now();
    while !run.join("loss.csv").exists() {
        assert!(start.elapsed().as_secs() < 120, "no checkpoint after 2 minutes");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A stopped run is not a finished one: 130, as a shell reports Ctrl-C.
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted at step"), "{stderr}");
    let hidden: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.file_name())
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
    let log = losses(&run);
    assert!(log.len() >= 10 && log.len() < 100000);
    // The checkpoint holds the last step: resuming continues right after it.
    let last = log.last().unwrap().0;
    let out = train(&wav, &run, last + 2).arg("--resume").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(losses(&run).last().unwrap().0, last + 2);
}
