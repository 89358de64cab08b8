//! `ddsp analyze` + `ddsp render` against a plain SMS resynthesis on every kind of sound
//! (examples/varied: low cello, trombone, trumpet, clarinet, bassoon, guitar harmonics, speech;
//! see examples/varied/make_varied.py for where each comes from).
//!
//! The baseline's distances are in examples/varied/sms_baseline.csv, made by
//! `python3 benches/peers/sms_baseline.py --score examples/varied/*.flac --golden
//! examples/varied/sms_baseline.csv` (numpy: YIN f0, harmonic peaks from a 4-period Hann
//! window, lobe-subtracted residual in 65 noise bands, oscillator bank plus shaped noise),
//! scored by `ddsp eval` against the recording at its own rate, as this test scores ours.

use ddsp_tests::cli::{ddsp_ok, eval_json, example, scratch};

/// The baseline's `ddsp eval` spectral distance per recording, from the committed CSV.
fn baseline() -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(example("varied/sms_baseline.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let (name, d) = line.split_once(',').unwrap();
            (name.to_string(), d.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_analysis_beats_plain_sms_on_every_kind_of_sound() {
    let dir = scratch();
    let mut ratios = Vec::new();
    for (name, sms) in baseline() {
        let input = example(&format!("varied/{name}.flac"));
        let csv = dir.path().join(format!("{name}.csv"));
        let wav = dir.path().join(format!("{name}.wav"));
        ddsp_ok(&["analyze", input.to_str().unwrap(), "-o", csv.to_str().unwrap()]);
        ddsp_ok(&["render", csv.to_str().unwrap(), "-o", wav.to_str().unwrap(), "--sample-rate", "44100"]);
        let ours = eval_json(&input, &wav)["spectral_distance"].as_f64().unwrap();
        eprintln!("{name:<18} SMS {sms:.3}  ddsp analyze {ours:.3}  ratio {:.3}", ours / sms);
        ratios.push((name, ours / sms));
    }
    assert_eq!(ratios.len(), 7, "one figure per recording");
    // Measured when this test was written: 0.58 (guitar harmonics) to 0.99 (trombone), 0.88 on
    // average. Before per-frame windows and the median noise floor, speech read 1.21, the
    // bassoon 1.02 and the low cello 1.02. With the noise above the last harmonic measured as
    // the bins' mean power: 0.58 (guitar harmonics) to 0.995 (low cello), 0.881 on average.
    // Since the partials keep the recording's phases (analyze/phase_lock.rs): 0.573 (guitar
    // harmonics) to 0.893 (speech), low cello 0.812, 0.727 on average; without the phases
    // speech reads 0.95 and the low cello 0.99 again. The issue asks for 10 % better than the
    // baseline on every kind. A change of the noise's random draws moves these by up to about
    // 1 % either way (examples/README.md: how much of these distances is the noise's
    // randomness).
    for (name, ratio) in &ratios {
        assert!(*ratio < 0.9, "{name}: ddsp analyze is {ratio:.3} of the SMS baseline's distance");
    }
    let mean = ratios.iter().map(|(_, r)| r).sum::<f64>() / ratios.len() as f64;
    assert!(mean < 0.76, "mean ratio {mean:.3} (was 0.727)");
}
