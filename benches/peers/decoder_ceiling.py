#!/usr/bin/env python3
"""How close can a trained model's CSV come to its recording? The ceilings behind
docs/TRAINING.md's "How close can the model come?". Not part of CI (numpy and soundfile).

Every CSV is rendered by `ddsp render --sample-rate 48000` and scored against the recording
with `sms_baseline.py`'s independent 16 kHz multi-scale distance (a fraction of silence's).

- `ddsp analyze` with its defaults: the yardstick of the model (the issue asks for 1.2x of it).
- `ddsp analyze --sample-rate 16000` at 250, 125, 100 and 50 frames/s: what a perfect decoder
  at the model's rate would score on each grid.
- Each of those analyses with every partial moved to exactly `k * f0` (the analysis's
  amplitudes and noise kept): what a perfect *harmonic* decoder would score, one that writes
  what DDSP's harmonic synthesiser plays (the frequency column of the original exporter) and
  so cannot carry the partials' measured frequencies and phases.
- Harmonic decoders that learned more than amplitudes, on the 250 frames/s analysis at 16 kHz:
  one whose partials keep their measured phase against the fundamental frame by frame (the
  most such phases could give), one whose partials keep the phase against the fundamental that
  the rest of the recording has at the same pitch (a waveform learned as a function of pitch),
  one whose partials depart from `k * f0` as the recording's did 3 s later (their jitter
  learned as statistics): whether either part of the partials' departures is worth learning.
- Hybrids on the 250 frames/s analysis at 16 kHz, which keep its partials (each one's measured
  frequency, and so its phase) and take the harmonic amplitudes, or the harmonic amplitudes
  and the noise, from a coarser grid (linearly interpolated in time): what the frame rate of
  the amplitudes alone costs.
- With `--csv model.csv` (a trained run's `export/<name>/<name>_unified.csv`): the model's
  CSV, then the model's harmonic amplitudes and noise on the analysis's partials, then the
  model's harmonic amplitudes alone (the analysis's noise), then the model's noise alone (the
  analysis's harmonics): which of the model's outputs holds it back; and, harmonic by
  harmonic, how far the model's amplitudes lie from the analysis's on the model's own grid
  (median and median absolute deviation of the difference in dB, frames voiced in both).
- Whether the recording's partials keep a fixed waveform a model could learn: the spread of each
  harmonic's phase against the fundamental's over the whole recording and over 0.2 s windows,
  and how well the same pitch elsewhere in the recording tells it.

Usage:
    python3 benches/peers/decoder_ceiling.py examples/violin_phrase_44k.wav \
        [--csv runs/violin/export/violin_phrase_44k/violin_phrase_44k_unified.csv] [--ddsp target/release/ddsp]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sms_baseline  # noqa: E402

MODEL_RATE_HZ = 16000
FINE_FRAME_RATE_HZ = 250
RENDER_RATE_HZ = 48000
# A partial quieter than this (linear amplitude) is taken as not sounding: its phase is not heard.
SOUNDING_AMPLITUDE = 1e-4


def read_csv(path):
    """A unified CSV as arrays: metadata line, f0 [T], harmonic freqs and amps [T, H], band
    centres [B], band magnitudes [T, B]."""
    with open(path) as f:
        meta = f.readline().strip()
        rows = csv.reader(f)
        next(rows)
        frames = {}
        for frame, f0, kind, _index, freq, value in rows:
            entry = frames.setdefault(int(frame), (float(f0), [], [], [], []))
            if kind == "harmonic":
                entry[1].append(float(freq))
                entry[2].append(float(value))
            else:
                entry[3].append(float(freq))
                entry[4].append(float(value))
    order = sorted(frames)
    frame_rate = float(dict(kv.split("=") for kv in meta.lstrip("# ").split(","))["frame_rate"])
    return {
        "meta": meta,
        "frame_rate": frame_rate,
        "f0": np.array([frames[i][0] for i in order]),
        "hf": np.array([frames[i][1] for i in order]),
        "ha": np.array([frames[i][2] for i in order]),
        "bc": np.array(frames[order[0]][3]),
        "bm": np.array([frames[i][4] for i in order]),
    }


def write_csv(path, d):
    with open(path, "w") as f:
        f.write(d["meta"] + "\nframe_index,f0_hz,component_type,component_index,frequency,value\n")
        for t in range(len(d["f0"])):
            f0 = d["f0"][t]
            for k, (freq, amp) in enumerate(zip(d["hf"][t], d["ha"][t])):
                f.write(f"{t},{f0:g},harmonic,{k},{freq:g},{amp:g}\n")
            for b, (centre, mag) in enumerate(zip(d["bc"], d["bm"][t])):
                f.write(f"{t},{f0:g},noise_band,{b},{centre:g},{mag:g}\n")


def on_grid(values, frame_rate, fine_rate, frames):
    """`values` [T, N] at `frame_rate`, linearly interpolated onto `frames` frames at `fine_rate`."""
    src = np.arange(len(values)) / frame_rate
    dst = np.arange(frames) / fine_rate
    return np.stack([np.interp(dst, src, values[:, j]) for j in range(values.shape[1])], axis=1)


def with_parts(fine, coarse, harmonics=False, noise=False):
    """`fine` with its harmonic amplitudes and/or noise taken from `coarse`."""
    out = dict(fine)
    frames = len(fine["f0"])
    if harmonics:
        amps = on_grid(coarse["ha"], coarse["frame_rate"], fine["frame_rate"], frames)
        count = min(amps.shape[1], fine["ha"].shape[1])
        out["ha"] = np.zeros_like(fine["ha"])
        out["ha"][:, :count] = amps[:, :count]
    if noise:
        out["bm"] = on_grid(coarse["bm"], coarse["frame_rate"], fine["frame_rate"], frames)
    return out


def harmonic(d):
    """`d` with every partial of a voiced frame at exactly `k * f0`, as a harmonic decoder
    writes them (unvoiced frames keep theirs)."""
    out = dict(d)
    k = np.arange(1, d["hf"].shape[1] + 1)
    voiced = d["f0"][:, None] > 0
    out["hf"] = np.where(voiced, d["f0"][:, None] * k, d["hf"])
    return out


def relative_phases(d):
    """Per frame and partial `k`, its phase less `k` times the fundamental's, radians (not
    wrapped). Phases are the renderer's: the integral of the analysis's partial frequencies,
    linear between frames, which the analysis sets so that they meet the recording's."""
    increments = (d["hf"][:-1] + d["hf"][1:]) / 2 / d["frame_rate"]
    phase = 2 * np.pi * np.vstack([np.zeros((1, d["hf"].shape[1])), np.cumsum(increments, axis=0)])
    return phase - np.arange(1, phase.shape[1] + 1) * phase[:, :1]


def sounding(d, k):
    """Frames where the fundamental and harmonic `k` (1-based) both sound."""
    return np.nonzero((d["f0"] > 0) & (d["ha"][:, 0] > SOUNDING_AMPLITUDE) & (d["ha"][:, k - 1] > SOUNDING_AMPLITUDE))[0]


def phase_from_pitch(d, sigma_cents=10.0, apart_s=1.0):
    """Per frame and partial, the mean over the rest of the recording of the unit vectors of its
    relative phase (`relative_phases`) at the same pitch: Gaussian weights of `sigma_cents` on
    f0, frames closer than `apart_s` left out, so that only other notes and other passes of the
    vibrato vote. Its angle is what a harmonic decoder that learned the waveform as a function
    of pitch (the instrument body's phase response) would play; zero where nothing votes."""
    unit = np.exp(1j * relative_phases(d)) * (d["ha"] > SOUNDING_AMPLITUDE)
    voiced = np.nonzero(d["f0"] > 0)[0]
    cents = 1200 * np.log2(d["f0"][voiced] / 440)
    times = voiced / d["frame_rate"]
    out = np.zeros(unit.shape, dtype=complex)
    for start in range(0, len(voiced), 500):
        rows = slice(start, start + 500)
        weights = np.exp(-0.5 * ((cents[rows, None] - cents[None, :]) / sigma_cents) ** 2)
        weights *= np.abs(times[rows, None] - times[None, :]) > apart_s
        out[voiced[rows]] = weights @ unit[voiced] / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return out


def with_relative_phase(d, phases):
    """`d` with every partial of a voiced frame at `k * f0` plus the frequency that makes its
    phase against the fundamental follow `phases` [T, H] (radians; unvoiced frames' ignored)."""
    voiced = d["f0"] > 0
    # The last voiced frame's phases held through each gap, so that unwrapping in time does not
    # turn a gap into a jump (a frequency spike on the next note's first frame).
    last_voiced = np.maximum.accumulate(np.where(voiced, np.arange(len(voiced)), 0))
    held = np.unwrap(phases[last_voiced], axis=0)
    slope = np.gradient(held, axis=0) * d["frame_rate"] / (2 * np.pi)
    out = harmonic(d)
    out["hf"] = out["hf"] + np.where(voiced[:, None], slope, 0.0)
    return out


def with_borrowed_departures(d, shift_s=3.0):
    """`d` with every voiced partial at `k * f0` times the relative departure from it that the
    analysis measured `shift_s` later in the recording (circularly; none where that frame is
    unvoiced): the recording's own partial jitter, in the wrong place. What a decoder that
    learned the statistics of the departures, not the departures, would play."""
    k = np.arange(1, d["hf"].shape[1] + 1)
    voiced = d["f0"] > 0
    ratio = np.where(voiced[:, None], d["hf"] / np.maximum(d["f0"][:, None] * k, 1e-9), 1.0)
    shift = int(round(shift_s * d["frame_rate"]))
    borrowed = np.where(np.roll(voiced, shift)[:, None], np.roll(ratio, shift, axis=0), 1.0)
    out = harmonic(d)
    out["hf"] = np.where(voiced[:, None], out["hf"] * borrowed, d["hf"])
    return out


def relative_phase_spread(d, predicted, harmonics=(2, 3, 4, 5, 8, 12, 16), window_s=0.2):
    """How fixed a waveform the recording has: per harmonic `k`, the mean resultant length of its
    phase less `k` times the fundamental's (1: always the same, 0: spread evenly around the
    circle), over every frame where both sound and the median over `window_s` windows; and the
    mean cosine between it and `predicted`'s angle (`phase_from_pitch`: 1, the pitch tells the
    phase; 0, it does not)."""
    relative = relative_phases(d)
    window = int(round(window_s * d["frame_rate"]))
    out = []
    for k in harmonics:
        frames = sounding(d, k)
        unit = np.exp(1j * relative[frames, k - 1])
        # Per window: the mean of its unit vectors, where at least 80 % of its frames sound.
        blocks = frames // window
        count = np.bincount(blocks)
        total = np.bincount(blocks, unit.real) + 1j * np.bincount(blocks, unit.imag)
        full = count >= window * 0.8
        guess = predicted[frames, k - 1]
        agreement = np.mean(np.real(unit * np.conj(guess)) / np.maximum(np.abs(guess), 1e-12))
        out.append((k, abs(unit.mean()), float(np.median(np.abs(total[full]) / count[full])), agreement))
    return out


def amplitude_errors_db(model, analysis, harmonics=16):
    """Per harmonic (the first `harmonics`): median and median absolute deviation of the model's
    amplitude over the analysis's, dB, over frames where both have the harmonic sounding."""
    frames = min(len(model["f0"]), len(analysis["f0"]))
    m, a = model["ha"][:frames], analysis["ha"][:frames]
    out = []
    for k in range(min(harmonics, m.shape[1], a.shape[1])):
        both = (m[:, k] > 1e-6) & (a[:, k] > 1e-6)
        if both.sum() == 0:
            continue
        diff = 20 * np.log10(m[both, k] / a[both, k])
        median = np.median(diff)
        out.append((k, median, np.median(np.abs(diff - median))))
    return out


def print_table(header, rows):
    """A Markdown table: `header` and each row are lists of cells."""
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recording")
    parser.add_argument("--csv", help="a trained model's exported unified CSV of the recording")
    parser.add_argument("--ddsp", default="target/release/ddsp")
    args = parser.parse_args()
    reference, rate = sms_baseline.read_mono(args.recording)

    with tempfile.TemporaryDirectory() as tmp:

        def run(*cmd):
            subprocess.run([args.ddsp, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def analysis(name, *options):
            path = os.path.join(tmp, name + ".csv")
            run("analyze", args.recording, "-o", path, *options)
            return path

        def score(path):
            # Into the temporary folder, never beside `path`: a model's CSV may sit beside files
            # of the same name (the recording itself, for a CSV named after it).
            wav = os.path.join(tmp, "render.wav")
            run("render", path, "-o", wav, "--sample-rate", str(RENDER_RATE_HZ))
            candidate, candidate_rate = sms_baseline.read_mono(wav)
            return sms_baseline.score(reference, rate, candidate, candidate_rate)

        def hybrid(name, d):
            path = os.path.join(tmp, name + ".csv")
            write_csv(path, d)
            return score(path)

        default = analysis("default")
        yardstick = score(default)
        rows = [
            ("`ddsp analyze` (defaults: the file's rate, 250 frames/s)", yardstick),
            ("the same, every partial at `k * f0`", hybrid("default_k", harmonic(read_csv(default)))),
        ]
        grids = {}
        for frame_rate in (250, 125, 100, 50):
            path = analysis(f"a{frame_rate}", "--sample-rate", str(MODEL_RATE_HZ), "--frame-rate", str(frame_rate))
            grids[frame_rate] = read_csv(path)
            rows.append((f"`ddsp analyze` at {MODEL_RATE_HZ} Hz, {frame_rate} frames/s", score(path)))
            rows.append(("the same, every partial at `k * f0`", hybrid(f"a{frame_rate}_k", harmonic(grids[frame_rate]))))
        fine = grids[FINE_FRAME_RATE_HZ]
        pitch_phase = phase_from_pitch(fine)
        phase_spread = relative_phase_spread(fine, pitch_phase)
        rows.append(
            (
                f"the {FINE_FRAME_RATE_HZ} frames/s one at `k * f0`, each partial's phase against the fundamental's "
                "as measured, frame by frame (the most a decoder of those phases could gain)",
                hybrid("measured_phase", with_relative_phase(fine, relative_phases(fine))),
            )
        )
        rows.append(
            (
                f"the {FINE_FRAME_RATE_HZ} frames/s one at `k * f0`, each partial's phase against the fundamental's "
                "taken from the same pitch elsewhere in the recording",
                hybrid("pitch_phase", with_relative_phase(fine, np.angle(pitch_phase))),
            )
        )
        rows.append(
            (
                f"the {FINE_FRAME_RATE_HZ} frames/s one at `k * f0`, times the partials' departures from it 3 s later",
                hybrid("borrowed", with_borrowed_departures(fine)),
            )
        )
        for frame_rate in (125, 100, 50):
            for noise, parts in ((False, "harmonic amplitudes"), (True, "harmonic amplitudes and noise")):
                label = f"250 frames/s partials, {parts} at {frame_rate} frames/s"
                d = with_parts(fine, grids[frame_rate], harmonics=True, noise=noise)
                rows.append((label, hybrid(f"h{frame_rate}{'n' if noise else ''}", d)))
        if args.csv:
            model = read_csv(args.csv)
            rows.append(("the model's CSV", score(args.csv)))
            for name, label, harmonics, noise in (
                ("m_hn", "the model's harmonic amplitudes and noise on the analysis's partials", True, True),
                ("m_h", "the model's harmonic amplitudes, the analysis's partials and noise", True, False),
                ("m_n", "the model's noise, the analysis's harmonics", False, True),
            ):
                rows.append((label, hybrid(name, with_parts(fine, model, harmonics=harmonics, noise=noise))))
            frame_rate = int(round(model["frame_rate"]))
            same_grid = grids.get(frame_rate) or read_csv(
                analysis("model_grid", "--sample-rate", str(MODEL_RATE_HZ), "--frame-rate", str(frame_rate))
            )
            harmonic_errors = amplitude_errors_db(model, same_grid)

    print(f"{args.recording}: distance at 16 kHz as a fraction of silence's, CSVs rendered at 48 kHz")
    print_table(
        ["what", "distance", "/ `ddsp analyze`"],
        [[label, f"{distance:.4f}", f"{distance / yardstick:.2f}x"] for label, distance in rows],
    )
    print("\nthe recording's phase of harmonic k less k times the fundamental's (250 frames/s analysis at")
    print("16 kHz), mean resultant length (1: a fixed waveform; 0: spread evenly):")
    print_table(
        ["harmonic"] + [str(k) for k, *_ in phase_spread],
        [
            ["whole recording"] + [f"{whole:.2f}" for _, whole, *_ in phase_spread],
            ["median over 0.2 s windows"] + [f"{local:.2f}" for _, _, local, _ in phase_spread],
            ["told by the same pitch elsewhere (mean cosine)"] + [f"{told:.2f}" for *_, told in phase_spread],
        ],
    )
    if args.csv:
        print("\nthe model's harmonic amplitudes against the analysis's on the model's grid, dB:")
        print_table(
            ["harmonic"] + [str(k + 1) for k, _, _ in harmonic_errors],
            [
                ["median"] + [f"{m:+.1f}" for _, m, _ in harmonic_errors],
                ["median abs. deviation"] + [f"{d:.1f}" for _, _, d in harmonic_errors],
            ],
        )


if __name__ == "__main__":
    main()
