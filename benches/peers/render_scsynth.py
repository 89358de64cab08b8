"""`ddsp render` side by side with SuperCollider's `scsynth`, the original system's engine, on
the same data: the peer that issue #12 item 3 compares the whole `ddsp render` command with.
Not part of CI (it needs numpy, soundfile, `scsynth` and `sclang`: Debian's
`supercollider-server` and `supercollider-language`).

    cargo build --release -p ddsp-trainer
    python3 benches/peers/render_scsynth.py                  # 60 s, 60 harmonics, 65 bands
    SECONDS_LONG=10 python3 benches/peers/render_scsynth.py  # another length

What it does:
- makes one synthetic envelope at 250 frames/s (a 196 Hz tone with vibrato, 60 harmonics
  falling as 1/k, 65 linear noise bands over 0..8 kHz with a slowly moving tilt), and writes it
  twice: as a unified CSV for `ddsp render`, and as four multichannel float WAVs of control
  data (harmonic frequencies and amplitudes, band centres and magnitudes) for `scsynth`;
- builds an NRT score with `sclang` (not timed): one synth reading the controls with
  `BufRd.kr` at the frame rate (linear interpolation), `SinOsc.ar(freq, 0, amp)` per harmonic
  and `BPF.ar(WhiteNoise.ar(mag), centre, 0.1)` per band, summed to one channel;
- times, best of three, the whole of each command from the same files to a 48 kHz mono
  32-bit float WAV: `scsynth -N` (it reads its control WAVs, renders and writes) and
  `ddsp render` (it parses the CSV, renders and writes), and `ddsp info` on the CSV (the parse
  alone).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

FRAME_RATE = 250
HARMONICS = 60
BANDS = 65
SAMPLE_RATE = 48000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DDSP = os.environ.get("DDSP", os.path.join(ROOT, "target", "release", "ddsp"))


def envelope(seconds):
    frames = int(seconds * FRAME_RATE)
    t = np.arange(frames) / FRAME_RATE
    f0 = 196.0 * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t))
    k = np.arange(1, HARMONICS + 1)
    freqs = f0[:, None] * k[None, :]
    amps = np.broadcast_to(0.02 / k, (frames, HARMONICS)) * (0.75 + 0.25 * np.sin(2 * np.pi * 0.5 * t))[:, None]
    centres = np.broadcast_to(np.linspace(0.0, 8000.0, BANDS), (frames, BANDS))
    tilt = 1.0 + 0.5 * np.sin(2 * np.pi * 0.2 * t)
    mags = 0.001 * (1.0 + np.cos(np.arange(BANDS)[None, :] * 0.1 * tilt[:, None]))
    return f0, freqs, amps, centres, mags


def write_csv(path, f0, freqs, amps, centres, mags):
    with open(path, "w") as out:
        out.write(f"# frame_rate={FRAME_RATE},sample_rate=16000\n")
        out.write("frame_index,f0_hz,component_type,component_index,frequency,value\n")
        for i in range(len(f0)):
            f = f"{f0[i]:.4f}"
            rows = [f"{i},{f},harmonic,{k},{freqs[i, k]:.4f},{amps[i, k]:.6g}" for k in range(HARMONICS)]
            rows += [f"{i},{f},noise_band,{b},{centres[i, b]:.4f},{mags[i, b]:.6g}" for b in range(BANDS)]
            out.write("\n".join(rows))
            out.write("\n")


SCORE = r"""
var frames = %(frames)d, seconds = %(seconds)f;
var def = SynthDef(\ddsp_peer, {
    var phase = Line.kr(0, frames - 1, seconds);
    var freqs = BufRd.kr(%(harmonics)d, 0, phase, 0, 2);
    var amps = BufRd.kr(%(harmonics)d, 1, phase, 0, 2);
    var centres = BufRd.kr(%(bands)d, 2, phase, 0, 2);
    var mags = BufRd.kr(%(bands)d, 3, phase, 0, 2);
    var harmonics = SinOsc.ar(freqs, 0, amps).sum;
    var noise = BPF.ar(WhiteNoise.ar(mags), centres.max(20), 0.1).sum;
    Out.ar(0, harmonics + noise);
});
var score = Score([
    [0.0, [\d_recv, def.asBytes]],
    [0.0, [\b_allocRead, 0, "%(dir)s/freqs.wav"]],
    [0.0, [\b_allocRead, 1, "%(dir)s/amps.wav"]],
    [0.0, [\b_allocRead, 2, "%(dir)s/centres.wav"]],
    [0.0, [\b_allocRead, 3, "%(dir)s/mags.wav"]],
    [0.0, [\s_new, \ddsp_peer, 1000, 0, 0]],
    [seconds, [\c_set, 0, 0]]
]);
score.writeOSCFile("%(dir)s/score.osc");
0.exit;
"""


def best_of_three(command):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    seconds = float(os.environ.get("SECONDS_LONG", "60"))
    for tool in ("scsynth", "sclang"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install supercollider-server supercollider-language")
    if not os.path.exists(DDSP):
        sys.exit(f"{DDSP} not found: cargo build --release -p ddsp-trainer (or set DDSP)")
    work = tempfile.mkdtemp(prefix="ddsp-peer-")
    f0, freqs, amps, centres, mags = envelope(seconds)
    csv = os.path.join(work, "envelope.csv")
    write_csv(csv, f0, freqs, amps, centres, mags)
    for name, data in (("freqs", freqs), ("amps", amps), ("centres", centres), ("mags", mags)):
        sf.write(os.path.join(work, f"{name}.wav"), np.ascontiguousarray(data, dtype=np.float32), FRAME_RATE,
                 subtype="FLOAT")
    script = os.path.join(work, "score.scd")
    with open(script, "w") as out:
        out.write(SCORE % dict(frames=len(f0), seconds=seconds, harmonics=HARMONICS, bands=BANDS, dir=work))
    # sclang starts Qt (and its web engine, which refuses root without --no-sandbox).
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox")
    built = subprocess.run(["sclang", script], env=env, capture_output=True, text=True, timeout=120)
    if not os.path.exists(os.path.join(work, "score.osc")):
        sys.exit(f"sclang did not write the score:\n{built.stdout[-2000:]}{built.stderr[-2000:]}")
    scsynth = best_of_three(["scsynth", "-N", f"{work}/score.osc", "_", f"{work}/sc.wav", str(SAMPLE_RATE), "WAV",
                             "float", "-o", "1"])
    ours = best_of_three([DDSP, "render", csv, "-o", f"{work}/ddsp.wav"])
    parse = best_of_three([DDSP, "info", csv])
    mb = os.path.getsize(csv) / 1e6
    print(f"{seconds:.0f} s, {HARMONICS} harmonics + {BANDS} bands at {FRAME_RATE} frames/s, to {SAMPLE_RATE} Hz "
          f"(CSV {mb:.0f} MB), best of three:")
    print(f"  scsynth -N (controls, render, WAV)  {scsynth:.3f} s")
    print(f"  ddsp render (parse, render, WAV)    {ours:.3f} s   {scsynth / ours:.1f}x faster than scsynth")
    print(f"  ddsp info (the parse alone)         {parse:.3f} s")
    for name in ("sc.wav", "ddsp.wav"):
        audio, rate = sf.read(os.path.join(work, name), dtype="float32")
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        print(f"  {name}: {len(audio) / rate:.2f} s, RMS {20 * np.log10(max(rms, 1e-12)):.1f} dBFS")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
