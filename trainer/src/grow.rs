//! `ddsp grow`: discrete growing stages, after the lightweight PyTorch DDSP's timbre grower. One
//! note, played again and again; each stage switches on more of its harmonics, by a strategy,
//! and silence separates the stages, so a listener hears the timbre being built up partial by
//! partial.
//!
//! A stage keeps the note's own amplitudes for the harmonics it has and sets every other
//! harmonic's amplitude to 0 (it does not scale the mix); the noise plays in every stage. The
//! note comes from a trained model (a key held for the stage length, through the plugin's
//! voice logic: the ADSR and velocity drive the model's loudness) or from a CSV's first frames
//! (the ADSR applied as a gain).

use anyhow::{bail, ensure};
use ddsp_shared::envelope::FrameComponents;
use ddsp_shared::voices::{Adsr, AdsrSettings};
use ddsp_shared::Envelope;

use crate::tools::modify::fix_pitch;

/// How many harmonics each stage switches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Evenly: stage k of N has k/N of the harmonics (rounded, at least 1).
    Linear,
    /// Doubling: 1, 2, 4, 8, ...
    Exponential,
    /// The Fibonacci numbers: 1, 2, 3, 5, 8, 13, ...
    Fibonacci,
}

/// The harmonic count of each of `stages` stages, for a note of `total` harmonics: never more
/// than `total`, never fewer than 1, never falling.
pub fn harmonic_counts(strategy: Strategy, stages: usize, total: usize) -> Vec<usize> {
    let total = total.max(1);
    let mut fib = (1usize, 2usize);
    (1..=stages)
        .map(|k| {
            let n = match strategy {
                Strategy::Linear => (k * total + stages / 2) / stages,
                Strategy::Exponential => 1usize.checked_shl(k as u32 - 1).unwrap_or(usize::MAX),
                Strategy::Fibonacci => {
                    let n = fib.0;
                    fib = (fib.1, fib.0.saturating_add(fib.1));
                    n
                }
            };
            n.clamp(1, total)
        })
        .collect()
}

/// The staged envelope: for each count, `note` with only its first `count` harmonics sounding,
/// followed (between stages) by `silence_s` of silent frames. Frame indices run on through the
/// whole, so each stage is heard at its own time.
pub fn stage_envelope(note: &Envelope, counts: &[usize], silence_s: f64) -> anyhow::Result<Envelope> {
    ensure!(note.frame_count() > 0, "the note has no frames");
    let silence_frames = (silence_s * note.frame_rate_hz).round() as usize;
    let (h, b) = (note.harmonic_count, note.noise_band_count);
    let note_span = note.frame_indices[note.frame_count() - 1] - note.frame_indices[0] + 1;
    let mut staged = note.empty_like(h, b, counts.len() * (note.frame_count() + silence_frames));
    let mut start = 0u64;
    let mut amps = vec![0.0f32; h];
    let silent_h = vec![0.0f32; h];
    let silent_b = vec![0.0f32; b];
    for (stage, &count) in counts.iter().enumerate() {
        for i in 0..note.frame_count() {
            let source = note.harmonic_amps(i);
            for (k, amp) in amps.iter_mut().enumerate() {
                *amp = if k < count { source[k] } else { 0.0 };
            }
            staged.push_frame(
                start + note.frame_indices[i] - note.frame_indices[0],
                note.f0_hz[i],
                FrameComponents { freqs_hz: note.harmonic_freqs(i), values: &amps },
                FrameComponents { freqs_hz: note.band_centres(i), values: note.band_mags(i) },
            );
        }
        start += note_span;
        if stage + 1 < counts.len() {
            let last = note.frame_count() - 1;
            for s in 0..silence_frames as u64 {
                staged.push_frame(
                    start + s,
                    note.f0_hz[last],
                    FrameComponents { freqs_hz: note.harmonic_freqs(last), values: &silent_h },
                    FrameComponents { freqs_hz: note.band_centres(last), values: &silent_b },
                );
            }
            start += silence_frames as u64;
        }
    }
    Ok(staged)
}

/// A note of `hold_s` (then its release) made from a CSV's frames: the file from its first
/// frame (repeated if shorter), at `f0_hz` when given (every partial keeps its ratio to f0),
/// with the ADSR as a gain on harmonics and noise alike.
pub fn note_from_csv(csv: &Envelope, hold_s: f64, f0_hz: Option<f64>, adsr: &AdsrSettings) -> anyhow::Result<Envelope> {
    if csv.frame_count() == 0 {
        bail!("the CSV has no frames");
    }
    let source = match f0_hz {
        Some(f0) => fix_pitch(csv, f0)?,
        None => csv.clone(),
    };
    let fr = source.frame_rate_hz;
    let hold_frames = ((hold_s * fr).round() as usize).max(1);
    let release_frames = (f64::from(adsr.release_ms) * 1e-3 * fr).ceil() as usize + 1;
    let (h, b) = (source.harmonic_count, source.noise_band_count);
    let mut note = source.empty_like(h, b, hold_frames + release_frames);
    let mut envelope = Adsr::default();
    envelope.gate_on();
    let (mut amps, mut mags) = (vec![0.0f32; h], vec![0.0f32; b]);
    for i in 0..hold_frames + release_frames {
        if i == hold_frames {
            envelope.gate_off(adsr, fr as f32);
        }
        let mut gain = [1.0f32];
        envelope.apply(adsr, fr as f32, &mut gain);
        let j = i % source.frame_count();
        for (a, &s) in amps.iter_mut().zip(source.harmonic_amps(j)) {
            *a = s * gain[0];
        }
        for (m, &s) in mags.iter_mut().zip(source.band_mags(j)) {
            *m = s * gain[0];
        }
        note.push_frame(
            i as u64,
            source.f0_hz[j],
            FrameComponents { freqs_hz: source.harmonic_freqs(j), values: &amps },
            FrameComponents { freqs_hz: source.band_centres(j), values: &mags },
        );
    }
    Ok(note)
}

/// The MIDI key a note name means: `C4` (middle C, 60), `A4` (69), `F#3`, `Bb2`, or a MIDI
/// number (`60`).
pub fn parse_note(text: &str) -> anyhow::Result<u8> {
    let expected = "expected a note name such as C4, F#3 or Bb2 (C4 = middle C) or a MIDI key 0..=127";
    if let Ok(key) = text.parse::<i32>() {
        return match u8::try_from(key) {
            Ok(key) if key <= 127 => Ok(key),
            _ => bail!("--note {text}: MIDI key out of range; {expected}"),
        };
    }
    let mut chars = text.chars();
    let semitone = match chars.next().map(|c| c.to_ascii_uppercase()) {
        Some('C') => 0,
        Some('D') => 2,
        Some('E') => 4,
        Some('F') => 5,
        Some('G') => 7,
        Some('A') => 9,
        Some('B') => 11,
        _ => bail!("--note {text}: {expected}"),
    };
    let rest = chars.as_str();
    let (accidental, octave) = match rest.chars().next() {
        Some('#') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let Ok(octave) = octave.parse::<i32>() else { bail!("--note {text}: {expected}") };
    let key = (octave + 1) * 12 + semitone + accidental;
    match u8::try_from(key) {
        Ok(key) if key <= 127 => Ok(key),
        _ => bail!("--note {text} is outside the MIDI keys C-1..G9"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_strategy_counts_its_own_way_up_to_every_harmonic() {
        assert_eq!(harmonic_counts(Strategy::Linear, 4, 60), vec![15, 30, 45, 60]);
        assert_eq!(harmonic_counts(Strategy::Linear, 8, 4), vec![1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(harmonic_counts(Strategy::Exponential, 8, 60), vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(harmonic_counts(Strategy::Fibonacci, 10, 60), vec![1, 2, 3, 5, 8, 13, 21, 34, 55, 60]);
        assert_eq!(harmonic_counts(Strategy::Exponential, 80, 60).len(), 80);
    }

    #[test]
    fn note_names_are_the_midi_keys_musicians_mean() {
        for (name, key) in
            [("C4", 60), ("A4", 69), ("c4", 60), ("F#3", 54), ("Bb2", 46), ("C-1", 0), ("G9", 127), ("72", 72)]
        {
            assert_eq!(parse_note(name).unwrap(), key, "{name}");
        }
        for bad in ["H2", "C", "G#9", "128", "-1", "C#x", ""] {
            let err = parse_note(bad).unwrap_err().to_string();
            assert!(err.contains("--note"), "{bad}: {err}");
        }
    }

    fn tone(frames: usize) -> Envelope {
        let mut e = Envelope::silent(100.0, 16_000.0, frames, 6, 3, 200.0);
        e.harmonic_amps.iter_mut().for_each(|a| *a = 0.1);
        e.band_mags.iter_mut().for_each(|m| *m = 0.01);
        e
    }

    #[test]
    fn a_stage_keeps_its_harmonics_amplitudes_and_silences_the_rest() {
        let note = tone(10);
        let staged = stage_envelope(&note, &[1, 3, 6], 0.05).unwrap();
        // Three notes of 10 frames and two silences of 5.
        assert_eq!(staged.frame_count(), 40);
        assert_eq!(staged.frame_indices, (0..40).collect::<Vec<u64>>());
        for (stage, (first, count)) in [(0usize, 1usize), (15, 3), (30, 6)].into_iter().enumerate() {
            for i in first..first + 10 {
                let amps = staged.harmonic_amps(i);
                assert!(amps[..count].iter().all(|&a| a == 0.1), "stage {stage} frame {i}: {amps:?}");
                assert!(amps[count..].iter().all(|&a| a == 0.0), "stage {stage} frame {i}: {amps:?}");
                assert!(staged.band_mags(i).iter().all(|&m| m == 0.01));
            }
        }
        for i in (10..15).chain(25..30) {
            assert!(staged.harmonic_amps(i).iter().chain(staged.band_mags(i)).all(|&v| v == 0.0), "frame {i}");
        }
        staged.validate().unwrap();
    }

    #[test]
    fn a_csv_note_holds_then_releases_at_the_asked_pitch() {
        let adsr = AdsrSettings { attack_ms: 0.0, decay_ms: 0.0, sustain: 0.5, release_ms: 100.0 };
        let note = note_from_csv(&tone(7), 0.2, Some(300.0), &adsr).unwrap();
        // 20 held frames (the 7-frame file repeated), then 10 frames of release and one more.
        assert_eq!(note.frame_count(), 31);
        assert!(note.f0_hz.iter().all(|&f| f == 300.0));
        assert_eq!(note.harmonic_freqs(12)[2], 900.0);
        assert!((note.harmonic_amps(10)[0] - 0.05).abs() < 1e-6, "held at the sustain level");
        assert!(note.harmonic_amps(22)[0] < 0.05 && note.harmonic_amps(22)[0] > 0.0, "releasing");
        assert_eq!(note.harmonic_amps(30)[0], 0.0, "released");
    }
}
