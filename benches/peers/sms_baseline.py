#!/usr/bin/env python3
"""The plain SMS baseline `ddsp analyze` is measured against, and the scorer (issue: analysis
quality on every kind of sound). Not part of CI (it needs numpy and soundfile).

The baseline is textbook Spectral Modelling Synthesis in numpy, at the recording's own rate:
- f0: YIN (cumulative mean normalised difference, threshold 0.15, parabolic refinement) on
  the signal resampled to 16 kHz, 50-2000 Hz, a frame every hop;
- harmonics: per voiced frame a Hann window four periods of that frame's f0 long, zero-padded
  four times; the peak nearest each k * f0 (within a quarter of f0), refined by a parabola
  through the log magnitudes; amplitude 2 |X| / sum(w);
- noise: each harmonic's Hann main lobe (the analytic lobe at its measured amplitude) is
  subtracted from the frame's power spectrum; the residual's power density is averaged into
  65 linear bands from 0 Hz to Nyquist;
- synthesis: an oscillator bank (frequencies and amplitudes interpolated linearly between
  frames, phases accumulated) plus white noise shaped by the band densities (linear between
  band centres) with 50 %-overlap Hann frames.

The score is an independent numpy multi-scale spectral distance at 16 kHz (FFT 2048..64, Hann,
hop 1/4, mean |magnitude difference| + mean |log magnitude difference| floored at 1e-5), given
as a fraction of the distance from silence to the recording: 0 is identical, 1 is silence.

Usage:
    python3 benches/peers/sms_baseline.py take.flac -o take_sms.wav     (the baseline's resynthesis)
    python3 benches/peers/sms_baseline.py --score examples/varied/*.flac [--ddsp target/release/ddsp] [--floor]
The second runs the baseline and `ddsp analyze` + `ddsp render` (defaults) on each file and prints
both scores and their ratio, by this distance and by `ddsp eval`'s (at the file's own rate, not
normalised); `--floor` adds the distance between two renders of the same analysis with different
noise seeds, the part of any noise model's distance that is the noise's randomness alone;
`--golden examples/varied/sms_baseline.csv` also writes the baseline's `ddsp eval` distances,
which trainer/tests/analysis_vs_sms.rs holds `ddsp analyze` to.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

HOP_S = 176 / 44100  # the frame rate ddsp analyze uses by default (250.57 Hz)
F0_MIN_HZ, F0_MAX_HZ = 50.0, 2000.0
HARMONICS = 60
NOISE_BANDS = 65
SCORE_RATE = 16000
FFT_SIZES = [2048, 1024, 512, 256, 128, 64]


def resample(x, rate_in, rate_out):
    """Band-limited resampling by truncating or zero-extending the spectrum."""
    if rate_in == rate_out:
        return x.copy()
    n_out = int(round(len(x) * rate_out / rate_in))
    spectrum = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spectrum))
    out[:m] = spectrum[:m]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def yin(x, rate, centres):
    """f0 (Hz) and voicing at each centre sample of `x` (already at `rate`)."""
    max_lag = int(rate / F0_MIN_HZ) + 2
    min_lag = max(2, int(rate / F0_MAX_HZ))
    width = max_lag
    padded = np.pad(x, (max_lag + width, max_lag + width))
    f0 = np.zeros(len(centres))
    voiced = np.zeros(len(centres), dtype=bool)
    energy_floor = 1e-4 * np.mean(x**2) + 1e-12
    for i, c in enumerate(centres):
        start = c + max_lag + width - width // 2
        frame = padded[start : start + width + max_lag]
        if np.mean(frame[:width] ** 2) < energy_floor:
            continue
        # Difference function d(tau) = sum (x[j] - x[j + tau])^2 via FFT correlation.
        w = frame[:width]
        n = 1 << int(np.ceil(np.log2(len(frame) + width)))
        corr = np.fft.irfft(np.fft.rfft(frame, n) * np.conj(np.fft.rfft(w, n)), n)[: max_lag + 1]
        sq = np.cumsum(np.concatenate([[0.0], frame**2]))
        energies = sq[np.arange(max_lag + 1) + width] - sq[np.arange(max_lag + 1)]
        d = sq[width] + energies - 2 * corr
        d[0] = 0.0
        cmnd = np.ones_like(d)
        running = np.cumsum(d[1:])
        cmnd[1:] = d[1:] * np.arange(1, max_lag + 1) / np.maximum(running, 1e-20)
        below = np.where(cmnd[min_lag:max_lag] < 0.15)[0]
        if len(below) == 0:
            continue
        tau = below[0] + min_lag
        while tau + 1 < max_lag and cmnd[tau + 1] < cmnd[tau]:
            tau += 1
        a, b, c2 = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
        denom = a - 2 * b + c2
        offset = 0.5 * (a - c2) / denom if abs(denom) > 1e-12 else 0.0
        f0[i] = rate / (tau + offset)
        voiced[i] = True
    # Unvoiced frames keep the nearest voiced f0 (for the oscillators' glide into silence).
    if voiced.any():
        idx = np.where(voiced)[0]
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(f0))), 0, len(idx) - 1)]
        f0[~voiced] = f0[nearest[~voiced]]
    else:
        f0[:] = 220.0
    return f0, voiced


def hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def hann_lobe(offset_bins_unpadded):
    """|W(nu)| / W(0) of a Hann window, nu in bins of the unpadded length (main lobe |nu| < 2)."""
    nu = np.asarray(offset_bins_unpadded, dtype=float)
    out = np.zeros_like(nu)
    inside = np.abs(nu) < 2
    v = nu[inside]
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.sinc(v) / (1 - v**2)
    val[np.abs(np.abs(v) - 1) < 1e-9] = 0.5
    out[inside] = np.abs(val)
    return out


def analyse(x, rate):
    hop = HOP_S * rate
    frames = int(len(x) / hop) + 1
    centres = np.round(np.arange(frames) * hop).astype(int)
    x16 = resample(x, rate, 16000)
    f0, voiced = yin(x16, 16000, np.round(centres * 16000 / rate).astype(int))
    nyquist = rate / 2
    band_centres = np.linspace(0, nyquist, NOISE_BANDS)
    spacing = band_centres[1]
    freqs = np.zeros((frames, HARMONICS))
    amps = np.zeros((frames, HARMONICS))
    noise = np.zeros((frames, NOISE_BANDS))
    noise_window = 1024 if rate <= 48000 else 2048
    pad_x = np.pad(x, (8192, 8192))
    for i, c in enumerate(centres):
        if voiced[i]:
            length = int(round(4 * rate / f0[i]))
        else:
            length = noise_window
        length = max(length, 64)
        w = hann(length)
        n_fft = 1 << int(np.ceil(np.log2(length * 4)))
        start = c + 8192 - length // 2
        seg = pad_x[start : start + length] * w
        spectrum = np.fft.rfft(seg, n_fft)
        power = np.abs(spectrum) ** 2
        bin_hz = rate / n_fft
        k_hz = np.arange(len(power)) * bin_hz
        residual = power.copy()
        if voiced[i]:
            log_mag = np.log(np.maximum(np.abs(spectrum), 1e-20))
            for h in range(HARMONICS):
                target = (h + 1) * f0[i]
                freqs[i, h] = target
                if target >= nyquist * 0.995:
                    continue
                lo = max(1, int(np.floor((target - 0.25 * f0[i]) / bin_hz)))
                hi = min(len(power) - 2, int(np.ceil((target + 0.25 * f0[i]) / bin_hz)))
                if lo > hi:
                    continue
                p = lo + int(np.argmax(log_mag[lo : hi + 1]))
                a, b, cc = log_mag[p - 1], log_mag[p], log_mag[p + 1]
                if not (b >= a and b >= cc):
                    continue
                denom = a - 2 * b + cc
                off = 0.5 * (a - cc) / denom if abs(denom) > 1e-12 else 0.0
                peak = b - 0.25 * (a - cc) * off
                freqs[i, h] = (p + off) * bin_hz
                amps[i, h] = 2 * np.exp(peak) / w.sum()
                # Subtract the lobe: |X| of a sinusoid of amplitude A is A/2 * W(0) * lobe.
                lobe = amps[i, h] / 2 * w.sum() * hann_lobe((k_hz - freqs[i, h]) * length / rate)
                residual = np.maximum(residual - lobe**2, 0.0)
        density = residual / np.sum(w**2)  # per-bin power of unit-variance white noise is sum(w^2)
        for b in range(NOISE_BANDS):
            sel = np.abs(k_hz - band_centres[b]) <= spacing / 2
            noise[i, b] = np.sqrt(np.mean(density[sel])) if sel.any() else 0.0
    return centres, freqs, amps, noise, band_centres


def synthesise(n, rate, centres, freqs, amps, noise, band_centres, seed=0):
    t = np.arange(n)
    out = np.zeros(n)
    for h in range(freqs.shape[1]):
        if not amps[:, h].any():
            continue
        f = np.interp(t, centres, freqs[:, h])
        a = np.interp(t, centres, amps[:, h])
        a[f >= rate / 2] = 0.0
        phase = 2 * np.pi * np.cumsum(f) / rate
        out += a * np.sin(phase)
    # Shaped white noise: 50 %-overlap Hann frames (they sum to one), each filtered by its
    # frame's band densities.
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n + 4096)
    size = 512 if rate <= 48000 else 1024
    step = size // 2
    w = hann(size)
    bins_hz = np.fft.rfftfreq(size, 1 / rate)
    shaped = np.zeros(n + 4096)
    frame_times = centres
    for start in range(-step, n, step):
        mid = start + step
        i = int(np.clip(np.searchsorted(frame_times, mid), 0, len(frame_times) - 1))
        gain = np.interp(bins_hz, band_centres, noise[i])
        s = max(start, 0)
        seg = white[s : s + size]
        if len(seg) < size:
            break
        filtered = np.fft.irfft(np.fft.rfft(seg) * gain, size)
        shaped[s : s + size] += filtered * w[: size]
    return out + shaped[:n]


def resynthesise(x, rate):
    return synthesise(len(x), rate, *analyse(x, rate))


def mss(reference, candidate):
    n = min(len(reference), len(candidate))
    r, c = reference[:n], candidate[:n]
    total = 0.0
    for size in FFT_SIZES:
        hop = size // 4
        w = hann(size)
        starts = range(0, max(n - size, 0) + 1, hop)
        fr = np.array([r[s : s + size] * w for s in starts])
        fc = np.array([c[s : s + size] * w for s in starts])
        mr, mc = np.abs(np.fft.rfft(fr)), np.abs(np.fft.rfft(fc))
        total += np.mean(np.abs(mr - mc)) + np.mean(
            np.abs(np.log(np.maximum(mr, 1e-5)) - np.log(np.maximum(mc, 1e-5)))
        )
    return total


def score(reference, rate, candidate, candidate_rate):
    r = resample(reference, rate, SCORE_RATE)
    c = resample(candidate, candidate_rate, SCORE_RATE)
    return mss(r, c) / mss(r, np.zeros_like(r))


def read_mono(path):
    x, rate = sf.read(path, always_2d=True, dtype="float64")
    return x.mean(axis=1), rate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+")
    p.add_argument("-o", "--output")
    p.add_argument("--score", action="store_true")
    p.add_argument("--ddsp", default="target/release/ddsp")
    p.add_argument("--golden", help="with --score: also write each file's SMS distance (ddsp eval's) to this CSV")
    p.add_argument(
        "--floor",
        action="store_true",
        help="with --score: also render the analysis with a second noise seed and print the distance between"
        " the two renders (how much of the distance is the noise's randomness alone)",
    )
    args = p.parse_args()
    if not args.score:
        x, rate = read_mono(args.inputs[0])
        sf.write(args.output, resynthesise(x, rate).astype(np.float32), rate)
        return
    golden = []
    print(f"{'':<18} {'numpy distance at 16 kHz / silence':^38} {'ddsp eval distance at the file rate':^38}")
    floor_head = f" {'seed 1 vs 2':>12} {'(/ SMS)':>12}" if args.floor else ""
    print(
        f"{'recording':<18} {'SMS':>12} {'ddsp':>12} {'ddsp/SMS':>12} {'SMS':>12} {'ddsp':>12} {'ddsp/SMS':>12}{floor_head}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = lambda *a: subprocess.run([args.ddsp, *a], check=True, capture_output=True, text=True).stdout
        evaluate = lambda ref, cand: json.loads(run("eval", "--reference", ref, "--candidate", cand, "--json"))[
            "spectral_distance"
        ]
        for path in args.inputs:
            name = os.path.splitext(os.path.basename(path))[0]
            x, rate = read_mono(path)
            sms_wav = os.path.join(tmp, name + "_sms.wav")
            sf.write(sms_wav, resynthesise(x, rate).astype(np.float32), rate)
            csv = os.path.join(tmp, name + ".csv")
            wav = os.path.join(tmp, name + ".wav")
            run("analyze", path, "-o", csv)
            run("render", csv, "-o", wav, "--sample-rate", str(rate))
            sms = score(x, rate, *read_mono(sms_wav))
            ours = score(x, rate, *read_mono(wav))
            sms_eval, ours_eval = evaluate(path, sms_wav), evaluate(path, wav)
            golden.append((name, sms_eval))
            floor = ""
            if args.floor:
                wav2 = os.path.join(tmp, name + "_seed2.wav")
                run("render", csv, "-o", wav2, "--sample-rate", str(rate), "--seed", "2")
                r = resample(x, rate, SCORE_RATE)
                seeds = [resample(read_mono(w)[0], rate, SCORE_RATE) for w in (wav, wav2)]
                between = mss(*seeds) / mss(r, np.zeros_like(r))
                floor = f" {between:>12.4f} {between / sms:>12.3f}"
            print(
                f"{name:<18} {sms:>12.4f} {ours:>12.4f} {ours / sms:>12.3f}"
                f" {sms_eval:>12.3f} {ours_eval:>12.3f} {ours_eval / sms_eval:>12.3f}{floor}"
            )
            sys.stdout.flush()
    if args.golden:
        with open(args.golden, "w") as f:
            f.write("recording,sms_spectral_distance\n")
            for name, d in golden:
                f.write(f"{name},{d:.4f}\n")


if __name__ == "__main__":
    main()
