"""Seconds per training step of the same model, synthesiser and loss as `ddsp train`, in PyTorch
on the CPU: the peer that issue #12 compares `cargo bench -p ddsp-trainer --bench train_step`
with. Not part of CI (it needs `pip install torch numpy`).

    python3 benches/peers/train_step_torch.py            # quick and full presets
    python3 benches/peers/train_step_torch.py quick      # one preset
    THREADS=2 python3 benches/peers/train_step_torch.py  # torch.set_num_threads

What it runs per step, mirroring trainer/src/train (model.rs, synth.rs, loss.rs, training.rs):
- DDSP's RnnFcDecoder: f0 (MIDI/127) and loudness (dB/80 + 1) each through 3 x (Dense,
  LayerNorm, ReLU) of width H, concatenated, a GRU of H, the skip concatenation, 3 x (Dense,
  LayerNorm, ReLU), Dense(1 + 60 + 65); exp-sigmoid on all three heads, the harmonic
  distribution masked above Nyquist and normalised, the noise head biased by -5.
- Harmonic synthesis: amplitudes interpolated linearly to the sample rate, phases the
  cumulative sum of the interpolated f0, sum over 60 harmonics.
- DDSP's FilteredNoise: magnitudes -> zero-phase impulse response of 2(65-1) taps (inverse real
  FFT), rolled to centre, Hann-windowed, FFT-convolved with uniform noise frame by frame.
- Multi-scale spectral loss: FFT sizes 2048..64 at 16 kHz, 75 % overlap, Hann window,
  mean |S - S'| + mean |log S - log S'|.
- Adam (epsilon 1e-7), global-norm gradient clipping at 3.
The data are the synthetic batch of the criterion bench (a three-harmonic tone per example at
196 Hz x (1 + e/8), loudness -25 dB).
"""

import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HARMONICS = 60
BANDS = 65
FFT_SIZES_16K = [2048, 1024, 512, 256, 128, 64]

# name: (sample rate, frame rate, hidden, batch, example seconds)
PRESETS = {
    "quick": (16000, 50, 128, 4, 2.0),
    "full": (16000, 250, 512, 16, 4.0),
}


def exp_sigmoid(x):
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


class Fc(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)
        self.norm = nn.LayerNorm(o, eps=1e-5)

    def forward(self, x):
        return F.relu(self.norm(self.dense(x)))


def stack(i, h):
    return nn.Sequential(Fc(i, h), Fc(h, h), Fc(h, h))


class Decoder(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.f0_stack = stack(1, h)
        self.loudness_stack = stack(1, h)
        self.gru = nn.GRU(2 * h, h, batch_first=True)
        self.out_stack = stack(3 * h, h)
        self.dense_out = nn.Linear(h, 1 + HARMONICS + BANDS)

    def forward(self, f0_hz, loudness_db, sample_rate):
        midi = 12.0 * torch.log2(f0_hz / 440.0) + 69.0
        stacks = torch.cat(
            [self.loudness_stack((loudness_db / 80.0 + 1.0)[..., None]), self.f0_stack((midi / 127.0)[..., None])], -1
        )
        recurrent, _ = self.gru(stacks)
        out = self.dense_out(self.out_stack(torch.cat([stacks, recurrent], -1)))
        amplitude = exp_sigmoid(out[..., :1])
        k = torch.arange(1, HARMONICS + 1, dtype=f0_hz.dtype)
        below = (k * f0_hz[..., None] < sample_rate / 2).to(out.dtype)
        distribution = exp_sigmoid(out[..., 1 : 1 + HARMONICS]) * below
        distribution = distribution / (distribution.sum(-1, keepdim=True) + 1e-7)
        noise = exp_sigmoid(out[..., 1 + HARMONICS :] - 5.0)
        return amplitude * distribution, noise


def upsample(frames, hop):
    """[B, T, C] -> [B, T * hop, C], linear between frame values (the last one held)."""
    b, t, c = frames.shape
    nxt = torch.cat([frames[:, 1:], frames[:, -1:]], 1)
    w = (torch.arange(hop, dtype=frames.dtype) / hop)[None, None, :, None]
    return (frames[:, :, None] * (1 - w) + nxt[:, :, None] * w).reshape(b, t * hop, c)


def harmonic_synth(amps, f0_hz, hop, sample_rate):
    f0 = upsample(f0_hz[..., None], hop)[..., 0]
    phase = torch.cumsum(2 * math.pi * f0 / sample_rate, -1)
    k = torch.arange(1, HARMONICS + 1, dtype=amps.dtype)
    return (upsample(amps, hop) * torch.sin(phase[..., None] * k)).sum(-1)


def filtered_noise(mags, hop, noise):
    """DDSP's FilteredNoise: `noise` is [B, T, hop] uniform in [-1, 1)."""
    b, t, _ = mags.shape
    ir = torch.fft.irfft(mags.to(torch.complex64), n=2 * (BANDS - 1))
    ir = torch.roll(ir, ir.shape[-1] // 2, -1) * torch.hann_window(ir.shape[-1], periodic=False)
    n = hop + ir.shape[-1] - 1
    n_fft = 1 << (n - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(noise, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)[..., :n]
    # Overlap-add the frames (each longer than the hop by the filter's length), centred.
    out = F.fold(
        y.transpose(1, 2), output_size=(1, (t - 1) * hop + n), kernel_size=(1, n), stride=(1, hop)
    ).reshape(b, -1)
    start = (ir.shape[-1]) // 2
    return out[:, start : start + t * hop]


def spectral_loss(predicted, target, sample_rate):
    loss = 0.0
    for size16 in FFT_SIZES_16K:
        n_fft = 1 << round(math.log2(size16 * sample_rate / 16000))
        if n_fft > predicted.shape[-1]:
            continue
        window = torch.hann_window(n_fft)
        mags = [
            (torch.stft(x, n_fft, n_fft // 4, window=window, center=False, return_complex=True).abs() ** 2 + 1e-10)
            .sqrt()
            for x in (predicted, target)
        ]
        loss = loss + (mags[0] - mags[1]).abs().mean() + (mags[0].log() - mags[1].log()).abs().mean()
    return loss


def synthetic_batch(sample_rate, frame_rate, batch, example_s):
    frames = round(example_s * frame_rate)
    hop = sample_rate // frame_rate
    n = frames * hop
    f0 = torch.tensor([[196.0 * (1 + e / 8)] * frames for e in range(batch)])
    i = torch.arange(n, dtype=torch.float32)
    p = 2 * math.pi * f0[:, :1] * i / sample_rate
    audio = 0.3 * (torch.sin(p) + 0.5 * torch.sin(2 * p) + 0.25 * torch.sin(3 * p))
    return f0, torch.full((batch, frames), -25.0), audio, hop


def bench(name, steps):
    sample_rate, frame_rate, hidden, batch, example_s = PRESETS[name]
    torch.manual_seed(0)
    model = Decoder(hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    f0, loudness, audio, hop = synthetic_batch(sample_rate, frame_rate, batch, example_s)

    def step():
        amps, mags = model(f0, loudness, sample_rate)
        noise = torch.rand(batch, f0.shape[1], hop) * 2 - 1
        synthesised = harmonic_synth(amps, f0, hop, sample_rate) + filtered_noise(mags, hop, noise)
        loss = spectral_loss(synthesised, audio, sample_rate)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        optimiser.step()
        return loss.item()

    for _ in range(2):  # warm-up
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(f"{name}: median {median:.3f} s per step (min {times[0]:.3f}, max {times[-1]:.3f}, {steps} steps)")


def main():
    if "THREADS" in os.environ:
        torch.set_num_threads(int(os.environ["THREADS"]))
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    names = sys.argv[1:] or list(PRESETS)
    for name in names:
        bench(name, 20 if name == "quick" else 5)


if __name__ == "__main__":
    main()
