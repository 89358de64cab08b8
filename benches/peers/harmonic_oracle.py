#!/usr/bin/env python3
"""The best a harmonic decoder could score on a recording: per-frame harmonic amplitudes at
exactly `k * f0`, found by gradient descent on the independent 16 kHz distance itself. Behind
docs/TRAINING.md's "How close can the model come?". Not part of CI (numpy, soundfile, torch).

`decoder_ceiling.py` calls the analysis moved to `k * f0` a perfect harmonic decoder. It is not
the best one: the analysis measures each partial where it is, and a partial moved off its true
frequency is scored by a magnitude-spectrum distance that would rather hear it at another
level. A trained model learns on that distance (the trainer's loss is the same multi-scale
L1 of magnitudes and log magnitudes), so what bounds it is the amplitudes that minimise the
distance, on its frame grid, with the analysis's f0.

For each frame rate the script
- analyses the recording at 16 kHz (`ddsp analyze --sample-rate 16000 --frame-rate R`) and moves
  every partial to `k * f0`: the starting point, and the row `decoder_ceiling.py` prints;
- renders each harmonic alone at amplitude 1 with `ddsp render --sample-rate 48000` (resampled
  to 16 kHz as the distance does) and the analysis's noise alone: the renderer is linear in
  the amplitudes, so the sum of these, weighted by the amplitudes interpolated linearly between
  frames, is what `ddsp render` plays (checked: the script stops if the two differ);
- runs Adam on the log amplitudes against the distance, the noise kept (the model's noise
  scores about as well as the analysis's: decoder_ceiling.py);
- writes the optimised amplitudes into the CSV, renders it with `ddsp render` and scores it
  with `sms_baseline.py`, so the figure is the same measurement as every other row;
- prints, harmonic by harmonic, how far the optimum lies from the analysis (median dB).

With `--f0-frame-rate F`, f0 (and so every partial) and the noise come from the analysis at F
frames/s while the amplitudes stay on the frame-rate grid, interpolated linearly onto F's: the
best a decoder at the frame rate could do if the synthesiser played the f0 track at F.

Usage (about 1 s per iteration for a half-minute recording on 2 cores):
    python3 benches/peers/harmonic_oracle.py examples/violin_phrase_44k.wav [--frame-rate 250 50] [--f0-frame-rate 250] \
        [--iterations 300] [--ddsp target/release/ddsp]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder_ceiling  # noqa: E402
import sms_baseline  # noqa: E402

# Adam's step on the log amplitudes: 0.05 nepers is about 0.4 dB.
LEARNING_RATE = 0.05
# The torch synthesis and `ddsp render` must agree on the distance this closely (relative),
# or the optimum found is not the renderer's.
AGREEMENT = 1e-3
# Below this the log of an amplitude is floored before optimising (-120 dB).
AMPLITUDE_FLOOR = 1e-6
# The harmonics whose shift from the analysis the script prints.
SHOWN_HARMONICS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


class Renderer:
    """`ddsp render` at 48 kHz, read back at the distance's 16 kHz, in a temporary folder."""

    def __init__(self, ddsp, tmp):
        self.ddsp, self.tmp = ddsp, tmp

    def run(self, *cmd):
        subprocess.run([self.ddsp, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def audio(self, d, *options):
        path = os.path.join(self.tmp, "envelope.csv")
        wav = os.path.join(self.tmp, "render.wav")
        decoder_ceiling.write_csv(path, d)
        self.run("render", path, "-o", wav, "--sample-rate", str(decoder_ceiling.RENDER_RATE_HZ), *options)
        x, rate = sms_baseline.read_mono(wav)
        return sms_baseline.resample(x, rate, sms_baseline.SCORE_RATE)


def between_frames(positions, count):
    """For each fractional frame position, the frames either side of it and the later one's
    weight, held after the last of `count` frames: the renderer's linear interpolation between
    frames (and `decoder_ceiling.on_grid`), kept in torch so that gradients pass through it."""
    before = positions.floor().long().clamp(max=count - 1)
    after = (before + 1).clamp(max=count - 1)
    return before, after, (positions - before.to(positions.dtype)).float()[:, None]


def interpolate(values, between):
    """`values` `[frames, N]` at the positions `between_frames` was given."""
    before, after, weight = between
    return values[before] * (1 - weight) + values[after] * weight


def distance(reference, candidate):
    """`sms_baseline.mss` in torch (differentiable): per FFT size, mean |magnitude difference| +
    mean |log magnitude difference|, Hann window, 75 % overlap, no centring."""
    total = 0.0
    for size in sms_baseline.FFT_SIZES:
        window = torch.hann_window(size, periodic=True, dtype=reference.dtype)
        spectra = [
            torch.stft(x, size, size // 4, window=window, center=False, return_complex=True).abs()
            for x in (reference, candidate)
        ]
        logs = [torch.log(s.clamp(min=1e-5)) for s in spectra]
        total = total + (spectra[0] - spectra[1]).abs().mean() + (logs[0] - logs[1]).abs().mean()
    return total


def oracle(recording, frame_rate, iterations, renderer, reference, f0_frame_rate=None):
    """(distance of the analysis at `k * f0`, distance of the optimum, both rendered by `ddsp
    render`; per harmonic, the median and the median absolute dB of the optimum over the
    analysis). With `f0_frame_rate`, f0 and the noise are the analysis's at that rate."""
    rate = decoder_ceiling.MODEL_RATE_HZ

    def analysis(frames_per_s):
        path = os.path.join(renderer.tmp, f"analysis_{frames_per_s}.csv")
        renderer.run("analyze", recording, "-o", path, "--sample-rate", str(rate), "--frame-rate", str(frames_per_s))
        return decoder_ceiling.harmonic(decoder_ceiling.read_csv(path))

    fine_rate = f0_frame_rate or frame_rate
    start = analysis(fine_rate)
    analysed = start["ha"] if fine_rate == frame_rate else analysis(frame_rate)["ha"]
    frames, harmonics = start["ha"].shape
    if analysed.shape[1] != harmonics:
        sys.exit(f"{recording}: {analysed.shape[1]} harmonics at {frame_rate} frames/s, {harmonics} at {fine_rate}")
    # The amplitudes' grid onto the synthesis grid, linearly (identity when they are the same).
    grid = between_frames(torch.arange(frames, dtype=torch.float64) * frame_rate / fine_rate, len(analysed))

    noise = renderer.audio(start, "--harmonic-volume", "0")
    basis = []
    for k in range(harmonics):
        alone = dict(start, ha=np.zeros_like(start["ha"]), bm=np.zeros_like(start["bm"]))
        alone["ha"][:, k] = 1.0
        basis.append(renderer.audio(alone))
    n = min(len(reference), len(noise), *(len(b) for b in basis))
    basis = torch.tensor(np.stack([b[:n] for b in basis]), dtype=torch.float32)
    noise = torch.tensor(noise[:n], dtype=torch.float32)
    target = torch.tensor(reference[:n], dtype=torch.float32)

    # Linear interpolation between frames, frame i at sample i * hop (the renderer's timeline).
    samples = between_frames(torch.arange(n, dtype=torch.float32) / (rate // fine_rate), frames)

    def synthesise(amplitudes):
        per_sample = interpolate(interpolate(amplitudes, grid), samples)
        return (per_sample.T * basis).sum(0) + noise

    def rendered_distance(amplitudes):
        # `sms_baseline.score` itself, on audio already at its rate: the figure every row uses.
        fine = interpolate(torch.tensor(amplitudes, dtype=torch.float32), grid).numpy()
        audio = renderer.audio(dict(start, ha=fine.astype(np.float64)))
        rate = sms_baseline.SCORE_RATE
        return sms_baseline.score(reference, rate, audio, rate)

    with torch.no_grad():
        silence = distance(target, torch.zeros_like(target)).item()
        analysis_amplitudes = torch.tensor(analysed, dtype=torch.float32)
        synthesised = distance(target, synthesise(analysis_amplitudes)).item() / silence
    rendered = rendered_distance(analysed)
    if abs(synthesised - rendered) > AGREEMENT * rendered:
        sys.exit(f"{recording} at {frame_rate} frames/s: the torch synthesis scores {synthesised:.5f}, ddsp render "
                 f"{rendered:.5f}; the optimum would not be the renderer's")

    log_amplitudes = torch.log(analysis_amplitudes.clamp(min=AMPLITUDE_FLOOR)).requires_grad_(True)
    optimiser = torch.optim.Adam([log_amplitudes], lr=LEARNING_RATE)
    for iteration in range(iterations):
        optimiser.zero_grad()
        loss = distance(target, synthesise(torch.exp(log_amplitudes))) / silence
        loss.backward()
        optimiser.step()
        if iteration % 50 == 0:
            print(f"  {frame_rate} frames/s, iteration {iteration}: {loss.item():.5f}", file=sys.stderr, flush=True)
    best = torch.exp(log_amplitudes).detach().numpy()
    sounding = analysed > decoder_ceiling.SOUNDING_AMPLITUDE
    shift_db = [20 * np.log10(best[sounding[:, k], k] / analysed[sounding[:, k], k]) for k in range(harmonics)]
    summary = [(np.median(s), np.median(np.abs(s))) if len(s) else (np.nan, np.nan) for s in shift_db]
    return rendered, rendered_distance(best), summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recording")
    parser.add_argument("--frame-rate", type=int, nargs="+", default=[250, 50])
    parser.add_argument("--f0-frame-rate", type=int, help="f0 and noise from the analysis at this rate")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--ddsp", default="target/release/ddsp")
    args = parser.parse_args()
    x, rate = sms_baseline.read_mono(args.recording)
    reference = sms_baseline.resample(x, rate, sms_baseline.SCORE_RATE)
    rows, shifts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        renderer = Renderer(args.ddsp, tmp)
        for frame_rate in args.frame_rate:
            analysed, best, shift_db = oracle(
                args.recording, frame_rate, args.iterations, renderer, reference, args.f0_frame_rate
            )
            rows.append([f"{frame_rate}", f"{analysed:.4f}", f"{best:.4f}", f"{best / analysed:.3f}"])
            shifts.append(
                [f"{frame_rate} frames/s"]
                + [f"{shift_db[k - 1][0]:+.1f} / {shift_db[k - 1][1]:.1f}" for k in SHOWN_HARMONICS]
            )
    f0_grid = f"; f0 and noise at {args.f0_frame_rate} frames/s" if args.f0_frame_rate else ""
    print(f"{args.recording}: distance at 16 kHz as a fraction of silence's, CSVs rendered at 48 kHz{f0_grid}")
    decoder_ceiling.print_table(
        ["frames/s", "analysis at `k * f0`", f"optimised amplitudes ({args.iterations} iterations)", "ratio"], rows
    )
    print("\nthe optimum's harmonic amplitudes against the analysis's, dB, median / median absolute (frames where")
    print("the harmonic sounds):")
    decoder_ceiling.print_table(["harmonic"] + [str(k) for k in SHOWN_HARMONICS], shifts)


if __name__ == "__main__":
    main()
