//! `ddsp render` end to end: the real binary on CSVs in the seed's exact layout, checked by
//! the pitches in the WAV it writes; bad input leaves no file and says where the problem is.

use std::path::Path;
use std::process::Command;

use ddsp_tests::cli::scratch;
use ddsp_trainer::wav_io::read_wav_f32;
use realfft::RealFftPlanner;

/// A unified CSV in the seed's layout: metadata comment, header, per frame the harmonics then
/// the noise bands; fractional frame rate, every other frame index skipped, fewer components
/// than 60/65. f0 = 220 Hz, three harmonics (amplitudes 0.3, 0.15, 0.1), four faint bands.
fn seed_layout_csv() -> String {
    let mut text = String::from("# frame_rate=250.57,sample_rate=44100\n");
    text.push_str("frame_index,f0_hz,component_type,component_index,frequency,value\n");
    for frame in (0..300).step_by(2) {
        for (k, amp) in [0.3, 0.15, 0.1].iter().enumerate() {
            text.push_str(&format!("{frame},220.0,harmonic,{k},{:.2},{amp:.6}\n", 220.0 * (k + 1) as f64));
        }
        for (b, centre) in [0.0, 2756.25, 5512.5, 11025.0].iter().enumerate() {
            text.push_str(&format!("{frame},220.0,noise_band,{b},{centre:.2},0.000100\n"));
        }
    }
    text
}

fn ddsp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ddsp")).args(args).output().expect("run ddsp")
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Peak frequencies (Hz) above 1 % of the strongest, each the largest within 20 Hz.
fn peaks_hz(x: &[f32], sample_rate_hz: f32) -> Vec<f32> {
    let n = x.len().next_power_of_two() * 2;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut input = fft.make_input_vec();
    for (i, (dst, &s)) in input.iter_mut().zip(x).enumerate() {
        *dst = s * (0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / x.len() as f32).cos());
    }
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum).unwrap();
    let mag: Vec<f32> = spectrum.iter().map(|c| c.norm()).collect();
    let bin_hz = sample_rate_hz / n as f32;
    let reach = (20.0 / bin_hz) as usize;
    let max = mag.iter().cloned().fold(0.0, f32::max);
    (1..mag.len() - 1)
        .filter(|&k| {
            mag[k] > 0.01 * max
                && mag[k] > mag[k - 1]
                && mag[k.saturating_sub(reach)..(k + reach + 1).min(mag.len())].iter().all(|&m| m <= mag[k])
        })
        .map(|k| {
            let (a, b, c) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
            (k as f32 + 0.5 * (a - c) / (a - 2.0 * b + c)) * bin_hz
        })
        .collect()
}

fn assert_peaks(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "peaks {got:?}, expected {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1.0, "peak at {g} Hz, expected {w} Hz (all: {got:?})");
    }
}

#[test]
fn pitch_and_stretch_flags_put_the_partials_where_expected() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("seed.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let wav = dir.join("out.wav");
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&wav), "--pitch", "12", "--stretch", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (samples, rate, channels) = read_wav_f32(&wav).unwrap();
    assert_eq!((rate, channels), (48_000, 1));
    // 150 frames, indices 0..=298, at 250.57 frames/s: 1.196 s, plus a short release.
    let seconds = samples.len() as f32 / 48_000.0;
    assert!((1.19..1.25).contains(&seconds), "{seconds} s");
    // An octave up (440, 880, 1320 Hz), then stretch 2 around the pitched f0: 440 * k^2.
    assert_peaks(&peaks_hz(&samples[4800..52_800], 48_000.0), &[440.0, 1760.0, 3960.0]);
}

#[test]
fn quarter_tone_centre_anchor_int24_at_another_rate() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("seed.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let wav = dir.join("out.wav");
    let out = ddsp(&[
        "render",
        path_str(&csv),
        "-o",
        path_str(&wav),
        "--tet",
        "24",
        "--pitch",
        "-1",
        "--stretch",
        "0.5",
        "--anchor",
        "center",
        "--format",
        "int24",
        "--sample-rate",
        "44100",
        "--loop",
        "--seconds",
        "2",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (samples, rate, _) = read_wav_f32(&wav).unwrap();
    assert_eq!((rate, samples.len()), (44_100, 88_200));
    // A quarter tone down, then stretch 0.5 around the centre (2nd) partial.
    let r = 2f32.powf(-1.0 / 24.0);
    let centre = 440.0 * r;
    let want: Vec<f32> = [220.0, 440.0, 660.0].iter().map(|f| centre * (f * r / centre).sqrt()).collect();
    assert_peaks(&peaks_hz(&samples[4410..], 44_100.0), &want);
}

#[test]
fn a_bad_csv_fails_naming_the_line_and_leaves_the_old_output_alone() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("bad.csv");
    let mut text = seed_layout_csv();
    // Line 5 (the third data row) gets a value that is not a number.
    let lines: Vec<&str> = text.lines().collect();
    let broken = lines[4].rsplit_once(',').unwrap().0.to_owned() + ",loud";
    text = lines.iter().enumerate().map(|(i, l)| if i == 4 { broken.clone() } else { l.to_string() } + "\n").collect();
    std::fs::write(&csv, text).unwrap();

    let wav = dir.join("out.wav");
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&wav)]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.csv") && stderr.contains("line 5"), "{stderr}");
    assert!(!wav.exists(), "a file was written despite the error");

    std::fs::write(&wav, b"the user's earlier render").unwrap();
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&wav)]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&wav).unwrap(), b"the user's earlier render");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 2, "a temporary file was left behind");
}

#[test]
fn the_output_never_replaces_the_input_a_read_only_file_or_a_device() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("take.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&csv)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite the input"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), seed_layout_csv());

    // A read-only earlier render is kept, and the message says why.
    let kept = dir.join("kept.wav");
    std::fs::write(&kept, b"final mix").unwrap();
    let mut permissions = std::fs::metadata(&kept).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&kept, permissions).unwrap();
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&kept)]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kept.wav") && stderr.contains("read-only"), "{stderr}");
    assert_eq!(std::fs::read(&kept).unwrap(), b"final mix");

    // `-o /dev/null` renders and discards, leaving the device a device.
    let out = ddsp(&["render", path_str(&csv), "-o", "/dev/null"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
    // `-o -` is refused rather than writing a file named `-`.
    let out = Command::new(env!("CARGO_BIN_EXE_ddsp"))
        .current_dir(dir)
        .args(["render", path_str(&csv), "-o", "-"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output"));
    assert!(!dir.join("-").exists());
}

#[test]
fn an_out_of_range_flag_names_the_flag_and_the_range() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("seed.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let wav = dir.join("out.wav");
    for (flag, value, range) in
        [("--stretch", "9", "0.25..=4"), ("--pitch", "-60", "-48..=48"), ("--tet", "0", "1..=96")]
    {
        let out = ddsp(&["render", path_str(&csv), "-o", path_str(&wav), flag, value]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag) && stderr.contains(range), "{stderr}");
        assert!(!wav.exists());
    }
}

/// The strongest spectral peak, Hz.
fn strongest_hz(x: &[f32], sample_rate_hz: f32) -> f32 {
    peaks_hz(x, sample_rate_hz)
        .into_iter()
        .max_by(|a, b| {
            let level = |f: f32| {
                let n = x.len() as f32;
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for (i, &s) in x.iter().enumerate() {
                    let phase = std::f32::consts::TAU * f * i as f32 / sample_rate_hz;
                    re += s * phase.cos();
                    im += s * phase.sin();
                }
                (re * re + im * im) / n
            };
            level(*a).total_cmp(&level(*b))
        })
        .unwrap()
}

#[test]
fn the_seed_fixture_of_the_csv_helper_renders_an_octave_up_with_pitch_12() {
    // 8 frames of the seed's layout (every 4th index, 60 harmonics, 65 bands, f0 ≈ 203.77 Hz).
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/data/seed_layout.csv");
    let scratch = scratch();
    let dir = scratch.path();
    let (plain, up) = (dir.join("plain.wav"), dir.join("up.wav"));
    for (wav, pitch) in [(&plain, "0"), (&up, "12")] {
        let out = ddsp(&["render", path_str(&csv), "-o", path_str(wav), "--pitch", pitch, "--loop", "--seconds", "1"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (plain, _, _) = read_wav_f32(&plain).unwrap();
    let (up, _, _) = read_wav_f32(&up).unwrap();
    let f_plain = strongest_hz(&plain[2400..], 48_000.0);
    let f_up = strongest_hz(&up[2400..], 48_000.0);
    assert!((f_plain - 203.77).abs() < 4.0, "fundamental at {f_plain} Hz");
    assert!((f_up / f_plain - 2.0).abs() < 0.01, "{f_up} Hz is not an octave above {f_plain} Hz");
}

/// Runs `ddsp ARGS` with its address space capped at `cap_mib` (bash's `ulimit -v`), so a
/// command that tries to hold a render or a frame span in memory fails instead of passing.
#[cfg(unix)]
fn ddsp_capped(cap_mib: u64, args: &[&str]) -> std::process::Output {
    let mut script = format!("ulimit -v {} && exec \"$0\"", cap_mib * 1024);
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_ddsp"))
        .args(args)
        .output()
        .expect("run ddsp under bash")
}

/// A CSV of two frames, 0 and `last`, with one harmonic and one band.
fn two_frames_csv(frame_rate: &str, sample_rate: &str, last: u64) -> String {
    let mut text = format!("# frame_rate={frame_rate},sample_rate={sample_rate}\n");
    text.push_str("frame_index,f0_hz,component_type,component_index,frequency,value\n");
    for frame in [0, last] {
        text.push_str(&format!("{frame},220,harmonic,0,220,0.1\n{frame},220,noise_band,0,100,0.001\n"));
    }
    text
}

#[cfg(unix)]
#[test]
fn tiny_csvs_that_ask_for_endless_renders_are_refused_naming_the_line_and_the_limit() {
    let scratch = scratch();
    let dir = scratch.path();
    let wav = dir.join("out.wav");
    // (frame_rate, sample_rate, last frame, line of the error, what it must say)
    let cases = [
        ("250", "16000", 999_999_999_999_999u64, "line 5", "86400 s"),
        ("1e-300", "16000", 0, "line 1", "frame_rate"),
        ("250", "4e100", 0, "line 1", "sample_rate"),
        ("250", "16000", 21_600_001, "line 5", "86400 s"),
    ];
    for (frame_rate, sample_rate, last, line, says) in cases {
        let csv = dir.join("tiny.csv");
        std::fs::write(&csv, two_frames_csv(frame_rate, sample_rate, last)).unwrap();
        for command in [vec!["info", path_str(&csv)], vec!["render", path_str(&csv), "-o", path_str(&wav)]] {
            let out = ddsp_capped(1024, &command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command:?} {frame_rate} {last}: {stderr}");
            assert!(stderr.contains("tiny.csv") && stderr.contains(line) && stderr.contains(says), "{stderr}");
        }
        assert!(!wav.exists());
    }
    // The last frame allowed: 24 h exactly is accepted.
    let csv = dir.join("day.csv");
    std::fs::write(&csv, two_frames_csv("250", "16000", 21_600_000)).unwrap();
    let out = ddsp_capped(1024, &["info", path_str(&csv)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A playback rate that would stretch the file past 24 hours is refused before rendering.
    let out = ddsp(&["render", path_str(&csv), "-o", path_str(&wav), "--rate", "0.5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--rate") && stderr.contains("--seconds"), "{stderr}");
    assert!(!wav.exists());
}

#[cfg(unix)]
#[test]
fn a_long_render_streams_to_disk_in_bounded_memory() {
    // 20 minutes at 96 kHz, float: 460 MB of samples, more than the cap allows to hold; the
    // render streams them and the file reads back whole.
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("seed.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let wav = dir.join("long.wav");
    let args =
        ["render", path_str(&csv), "-o", path_str(&wav), "--loop", "--seconds", "1200", "--sample-rate", "96000"];
    let out = ddsp_capped(300, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::metadata(&wav).unwrap().len();
    assert_eq!(bytes, ddsp_trainer::wav_io::WAV_HEADER_BYTES as u64 + 1200 * 96_000 * 4);
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.duration(), 1200 * 96_000);
}

/// Starts an endless looping render of `csv` into `wav` and returns once its temporary file
/// holds a megabyte.
#[cfg(unix)]
fn start_long_render(csv: &Path, wav: &Path) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_ddsp"))
        .args(["render", path_str(csv), "-o", path_str(wav), "--loop", "--seconds", "86400"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let name = wav.file_name().unwrap().to_string_lossy();
    let tmp = wav.with_file_name(format!(".{name}.{}.tmp", child.id()));
    let start = std::time::Instant::now();
    while std::fs::metadata(&tmp).map_or(true, |m| m.len() < 1 << 20) {
        assert!(start.elapsed().as_secs() < 60, "the render never started writing {}", tmp.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[cfg(unix)]
#[test]
fn ctrl_c_or_sigterm_during_a_render_keeps_the_old_file_and_leaves_no_temporary() {
    let scratch = scratch();
    let dir = scratch.path();
    let csv = dir.join("seed.csv");
    std::fs::write(&csv, seed_layout_csv()).unwrap();
    let wav = dir.join("take.wav");
    std::fs::write(&wav, b"the user's earlier render").unwrap();
    // SIGINT as Ctrl-C sends it, SIGTERM as a shutdown or a job scheduler does.
    for signal in ["-INT", "-TERM"] {
        let child = start_long_render(&csv, &wav);
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{signal}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&wav).unwrap(), b"the user's earlier render");
        let names: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "{signal}: left behind: {names:?}");
    }
}

#[cfg(unix)]
mod extreme_metadata {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Each case runs the binary twice; a few dozen cover the corners.
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Any rates the format allows and any last frame, read by `info` and played by
        /// `render` under a 1 GiB memory cap: a file within the limits is described and
        /// rendered; one beyond them is refused with exit status 1, the line and the limit;
        /// nothing crashes or runs out of memory.
        #[test]
        fn info_and_render_stay_bounded_on_any_valid_metadata(
            frame_rate_log10 in -1.99f64..5.88,
            sample_rate_log10 in 3.001f64..5.88,
            last_frame_s in prop_oneof![0.0f64..86_400.0, 86_400.5f64..1e12],
        ) {
            let frame_rate = 10f64.powf(frame_rate_log10);
            let sample_rate = 10f64.powf(sample_rate_log10);
            let last = ((last_frame_s * frame_rate).min(999_999_999_999_999.0) as u64).max(1);
            let within = last as f64 / frame_rate <= 86_400.0;
            let scratch = scratch();
            let csv = scratch.path().join("extreme.csv");
            std::fs::write(&csv, two_frames_csv(&format!("{frame_rate}"), &format!("{sample_rate}"), last)).unwrap();
            let info = ddsp_capped(1024, &["info", path_str(&csv)]);
            let render = ddsp_capped(1024, &["render", path_str(&csv), "-o", "/dev/null", "--seconds", "0.25"]);
            for out in [&info, &render] {
                let stderr = String::from_utf8_lossy(&out.stderr);
                if within {
                    prop_assert!(out.status.success(), "{frame_rate} {sample_rate} {last}: {stderr}");
                } else {
                    prop_assert_eq!(out.status.code(), Some(1), "{}", stderr);
                    prop_assert!(stderr.contains("line 5") && stderr.contains("86400 s"), "{}", stderr);
                }
            }
        }
    }
}
