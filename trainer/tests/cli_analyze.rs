//! End-to-end checks of `ddsp analyze` through the real binary, on the example recordings and on
//! small WAVs written here.

use std::path::Path;

use ddsp_shared::unified_csv;
use ddsp_tests::cli::{ddsp, example, stderr};
use ddsp_tests::wav::write_wav_i16;
use ddsp_trainer::audio::decode::read_audio_mono;
use ddsp_trainer::audio::resample::resample;
use ddsp_trainer::features::f0::estimate_f0;

/// Writes the first `seconds` of an example recording as a 16-bit WAV.
fn excerpt(name: &str, seconds: f64, to: &Path) {
    let (samples, sr) = read_audio_mono(&example(name)).unwrap();
    let n = ((seconds * f64::from(sr)) as usize).min(samples.len());
    write_wav_i16(to, &samples[..n], sr, 1);
}

#[test]
fn a_recording_becomes_a_unified_csv_with_harmonics_and_noise() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("violin_4s.wav");
    excerpt("violin_phrase_44k.wav", 4.0, &wav);
    let csv = dir.path().join("violin.csv");
    let out = ddsp(&[
        "analyze",
        wav.to_str().unwrap(),
        "-o",
        csv.to_str().unwrap(),
        "--harmonics",
        "40",
        "--noise-bands",
        "33",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = unified_csv::read_path(&csv).unwrap();
    env.validate().unwrap();
    assert_eq!(env.harmonic_count, 40);
    assert_eq!(env.noise_band_count, 33);
    // Default frame rate at 44.1 kHz: a hop of 176 samples, as the original exporter wrote.
    assert!((env.frame_rate_hz - 44100.0 / 176.0).abs() < 1e-9, "{}", env.frame_rate_hz);
    assert_eq!(env.sample_rate_hz, 44100.0);
    assert_eq!(env.frame_count(), 4 * 44100 / 176);
    let voiced: Vec<usize> =
        (0..env.frame_count()).filter(|&i| env.harmonic_amps(i).iter().any(|a| *a > 0.0)).collect();
    assert!(voiced.len() > env.frame_count() * 3 / 4, "{} of {} frames voiced", voiced.len(), env.frame_count());
    for &i in &voiced {
        let (f0, freqs) = (env.f0_hz[i], env.harmonic_freqs(i));
        // Each measured partial is its own harmonic: nearer to k * f0 than to the neighbours.
        for (k, f) in freqs.iter().enumerate().take(10) {
            let expected = f0 * (k + 1) as f32;
            assert!((f - expected).abs() < 0.45 * f0, "frame {i}, harmonic {k}: {f} Hz for f0 {f0}");
        }
    }
    // The bow noise is there, well below the partials.
    let i = voiced[voiced.len() / 2];
    let partial_peak = env.harmonic_amps(i).iter().copied().fold(0.0f32, f32::max);
    let noise_peak = env.band_mags(i).iter().copied().fold(0.0f32, f32::max);
    assert!(noise_peak > 0.0 && noise_peak < partial_peak, "noise {noise_peak}, partials {partial_peak}");
}

#[test]
fn the_analysis_rate_and_frame_rate_can_be_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("flute_1s.wav");
    excerpt("flute_phrase_44k.wav", 1.0, &wav);
    let csv = dir.path().join("flute.csv");
    let out = ddsp(&[
        "analyze",
        wav.to_str().unwrap(),
        "-o",
        csv.to_str().unwrap(),
        "--sample-rate",
        "16000",
        "--frame-rate",
        "250",
        "--harmonics",
        "20",
        "--noise-bands",
        "65",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = unified_csv::read_path(&csv).unwrap();
    assert_eq!((env.frame_rate_hz, env.sample_rate_hz), (250.0, 16000.0));
    assert_eq!(env.frame_count(), 250);
    // Bands reach the Nyquist of the analysis rate; no partial lies above it.
    assert_eq!(*env.band_centres(0).last().unwrap(), 8000.0);
    assert!(env.harmonic_freqs_hz.iter().zip(&env.harmonic_amps).all(|(f, a)| *a == 0.0 || *f < 8000.0));
}

#[test]
fn bad_inputs_get_clear_errors_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("out.csv");
    let run = |input: &Path, extra: &[&str]| {
        let mut args = vec!["analyze", input.to_str().unwrap(), "-o", csv.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = ddsp(&args);
        assert!(!out.status.success());
        assert!(!csv.exists(), "no output on error");
        stderr(&out)
    };

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "not audio at all").unwrap();
    let err = run(&text, &[]);
    assert!(err.contains("notes.wav") && err.contains("not an audio file"), "{err}");

    let empty = dir.path().join("empty.wav");
    write_wav_i16(&empty, &[], 44100, 2);
    let err = run(&empty, &[]);
    assert!(err.contains("empty.wav") && err.contains("empty"), "{err}");

    let short = dir.path().join("click.wav");
    write_wav_i16(&short, &[0.5; 100], 44100, 1);
    let err = run(&short, &[]);
    assert!(err.contains("click.wav") && err.contains("too short"), "{err}");

    let fine = dir.path().join("tone.wav");
    let tone: Vec<f32> = (0..22050).map(|i| (i as f32 * 0.06).sin() * 0.3).collect();
    write_wav_i16(&fine, &tone, 44100, 1);
    let err = run(&fine, &["--frame-rate", "250"]);
    assert!(err.contains("tone.wav") && err.contains("not a whole multiple"), "{err}");
    assert!(err.contains("16000") && err.contains("252"), "names rates that work: {err}");

    let err = run(&fine, &["--harmonics", "0"]);
    assert!(err.contains("--harmonics"), "{err}");

    // An existing output survives a failed run untouched.
    std::fs::write(&csv, "precious").unwrap();
    let out = ddsp(&["analyze", text.to_str().unwrap(), "-o", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "precious");

    // The recording is never replaced by its own analysis, under any name for it.
    let recording = std::fs::read(&fine).unwrap();
    let same = dir.path().join(".").join("tone.wav");
    let out = ddsp(&["analyze", fine.to_str().unwrap(), "-o", same.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("refusing to overwrite the input") && err.contains("tone.wav"), "{err}");
    assert_eq!(std::fs::read(&fine).unwrap(), recording);
}

/// Cents from the nearest equal-tempered pitch at A440.
fn cents_off_equal_temperament(f_hz: f64) -> f64 {
    let cents = 1200.0 * (f_hz / 440.0).log2();
    cents - 100.0 * (cents / 100.0).round()
}

/// On the real recordings (the trainer's path: resampled to 16 kHz, f0 at 250 Hz), every long
/// steady note is found, sits on an equal-tempered pitch and holds it without octave jumps.
#[test]
fn f0_of_the_example_recordings_is_stable_and_in_tune() {
    for (name, min_notes) in [("violin_phrase_44k.wav", 15), ("flute_phrase_44k.wav", 8)] {
        let (samples, sr) = read_audio_mono(&example(name)).unwrap();
        let samples = resample(&samples, sr, 16000).unwrap();
        let track = estimate_f0(&samples, 16000, 250.0).unwrap();
        let cents: Vec<f64> = track.f0_hz.iter().map(|f| 1200.0 * (f64::from(*f) / 440.0).log2()).collect();

        // Steady notes: runs of at least 0.4 s of voiced frames within 40 cents of the run's start.
        let mut notes: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        for i in 1..=cents.len() {
            let ends =
                i == cents.len() || !track.voiced[i] || !track.voiced[start] || (cents[i] - cents[start]).abs() > 40.0;
            if ends {
                if track.voiced[start] && i - start >= 100 {
                    notes.push((start, i));
                }
                start = i;
            }
        }
        assert!(notes.len() >= min_notes, "{name}: only {} steady notes found", notes.len());
        let mut deviations = Vec::new();
        for &(a, b) in &notes {
            let mut note: Vec<f64> = track.f0_hz[a..b].iter().map(|f| f64::from(*f)).collect();
            note.sort_by(f64::total_cmp);
            let median = note[note.len() / 2];
            let off = cents_off_equal_temperament(median);
            assert!(off.abs() < 20.0, "{name}: note at {:.2} s is {off:.1} cents off", a as f64 / 250.0);
            deviations.push(off.abs());
        }
        deviations.sort_by(f64::total_cmp);
        let median_dev = deviations[deviations.len() / 2];
        assert!(median_dev < 10.0, "{name}: median note {median_dev:.1} cents from equal temperament");

        // No octave errors: voiced frame-to-frame jumps of more than 7 semitones are rare.
        let jumps = (1..cents.len())
            .filter(|&i| track.voiced[i] && track.voiced[i - 1] && (cents[i] - cents[i - 1]).abs() > 700.0)
            .count();
        assert!(jumps <= 3, "{name}: {jumps} jumps over 7 semitones");
        eprintln!("{name}: {} steady notes, median {median_dev:.1} cents from ET, {jumps} big jumps", notes.len());
    }
}

/// Compressed and other containers (examples/formats/, one second of the violin) analyse like
/// the WAV they were made from: the same f0 within a few cents in every voiced frame the two
/// share; `--plot` writes the features and spectrogram PNGs beside the CSV.
#[test]
fn every_audio_format_analyses_like_the_wav_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("violin_1s.wav");
    let (samples, sr) = read_audio_mono(&example("violin_phrase_44k.wav")).unwrap();
    write_wav_i16(&wav, &samples[3 * sr as usize..4 * sr as usize], sr, 1);
    let analyse = |input: &Path, name: &str, extra: &[&str]| {
        let csv = dir.path().join(format!("{name}.csv"));
        let mut args = vec!["analyze", input.to_str().unwrap(), "-o", csv.to_str().unwrap(), "--sample-rate", "44100"];
        args.extend(extra);
        let out = ddsp(&args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        unified_csv::read_path(&csv).unwrap()
    };
    let reference = analyse(&wav, "reference", &[]);
    let voiced = |env: &ddsp_shared::Envelope, i: usize| env.harmonic_amps(i).iter().any(|&a| a > 0.0);
    for file in ["violin_1s.flac", "violin_1s.aiff", "violin_1s.mp3", "violin_1s_48k_stereo.ogg", "violin_1s.m4a"] {
        let input = example("formats").join(file);
        let env = analyse(&input, file, if file.ends_with("flac") { &["--plot"] } else { &[] });
        let shared: Vec<usize> = (0..env.frame_count().min(reference.frame_count()))
            .filter(|&i| voiced(&env, i) && voiced(&reference, i))
            .collect();
        assert!(shared.len() > reference.frame_count() * 3 / 4, "{file}: {} frames voiced in both", shared.len());
        let mut cents: Vec<f32> =
            shared.iter().map(|&i| (1200.0 * (env.f0_hz[i] / reference.f0_hz[i]).log2()).abs()).collect();
        cents.sort_by(f32::total_cmp);
        let median = cents[cents.len() / 2];
        println!("{file}: median f0 difference {median:.3} cents over {} frames", shared.len());
        assert!(median < 3.0, "{file}: median f0 difference {median:.2} cents from the WAV's");
    }
    for (plot, height) in [("violin_1s.flac_features.png", 760), ("violin_1s.flac_spectrogram.png", 680)] {
        let path = dir.path().join(plot);
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (1000, height), "{plot}");
    }
}

#[test]
fn low_notes_that_run_out_of_harmonics_get_a_note_naming_how_many_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let cello = example("varied/cello_low.flac");
    let csv = dir.path().join("cello.csv");
    let run = |harmonics: &str| {
        let out = ddsp(&["analyze", cello.to_str().unwrap(), "-o", csv.to_str().unwrap(), "--harmonics", harmonics]);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    // C2 to G2: the 5th percentile of f0 is the low C (65.4 Hz), whose 60th harmonic is at 3.9 kHz.
    let said = run("60");
    assert!(said.contains("note: on its lowest notes (about 65 Hz) 60 harmonics reach 3.9 kHz"), "{said}");
    assert!(said.contains("--harmonics 122 keeps them as partials up to 8.0 kHz"), "{said}");
    // Enough harmonics: no note.
    let said = run("122");
    assert!(!said.contains("note:"), "{said}");
    // The violin's low G (196 Hz) reaches 11.8 kHz with the default 60: no note either.
    let violin = dir.path().join("violin_4s.wav");
    excerpt("violin_phrase_44k.wav", 4.0, &violin);
    let out = ddsp(&["analyze", violin.to_str().unwrap(), "-o", csv.to_str().unwrap()]);
    assert!(out.status.success() && !stderr(&out).contains("note:"), "{}", stderr(&out));
}
