#!/usr/bin/env python3
"""Builds the varied set of real recordings that `ddsp analyze` is scored on (examples/varied/).

Every clip is real recorded sound from a Debian package, nothing synthesised:
- the instruments are the Fluid R3 General MIDI soundfont's recorded samples
  (`fluid-soundfont-gm`), played as a short phrase by FluidSynth (`fluidsynth`) with its reverb
  and chorus off, so what is heard is the sample itself (pitched, looped, enveloped);
- the speech is ALSA's spoken channel announcements (`alsa-utils`, /usr/share/sounds/alsa),
  four of them end to end.

Run (Debian 12): apt-get install fluidsynth fluid-soundfont-gm alsa-utils; pip install numpy soundfile
    python3 examples/varied/make_varied.py
It writes the FLAC files beside itself (44.1 kHz mono 16-bit, peak at -1 dBFS).
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "midi"))
from make_melody import TPB, track  # noqa: E402  (the MIDI writer of examples/midi)

HERE = os.path.dirname(os.path.abspath(__file__))
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
ALSA = "/usr/share/sounds/alsa"
RATE = 44100
# 120 bpm (the MIDI default), so a beat is 0.5 s.

# name: (GM program, 0-based; [(MIDI key, start beat, beats, velocity)])
PHRASES = {
    # The cello's lowest octave (C2 = 65 Hz up to G2), where ten-period windows get long.
    "cello_low": (42, [(36, 0, 1.8, 90), (38, 2, 1.8, 70), (43, 4, 1.5, 100), (40, 5.5, 2, 80)]),
    # Brass: bright, many strong partials, hard onsets.
    "trumpet": (56, [(67, 0, 1.2, 100), (72, 1.25, 1.2, 80), (76, 2.5, 1, 110), (74, 3.5, 2.5, 90)]),
    "trombone": (57, [(46, 0, 1.8, 90), (53, 2, 1.8, 100), (50, 4, 2.5, 80)]),
    # Woodwinds: the clarinet's odd partials, the bassoon's low reedy tone.
    "clarinet": (71, [(62, 0, 1.4, 90), (65, 1.5, 1.4, 70), (69, 3, 1.4, 100), (67, 4.5, 2, 80)]),
    "bassoon": (70, [(43, 0, 1.8, 90), (48, 2, 1.8, 80), (46, 4, 2.5, 100)]),
    # Plucked guitar harmonics: a bell-like attack and a long decay.
    "guitar_harmonics": (31, [(64, 0, 1.5, 100), (71, 1.5, 1.5, 90), (76, 3, 1.5, 110), (69, 4.5, 2.5, 95)]),
}
SPEECH = ["Front_Left.wav", "Front_Right.wav", "Rear_Center.wav", "Side_Left.wav"]


def midi_file(program, notes):
    """A format-0 MIDI file: the program change, then each note on and off."""
    events = [(0, bytes([0xC0, program]))]
    for key, start, beats, velocity in notes:
        events.append((round(start * TPB), bytes([0x90, key, velocity])))
        events.append((round((start + beats) * TPB), bytes([0x80, key, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] != 0x80))
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPB) + track(events)


def normalise(x):
    return x / np.max(np.abs(x)) * 10 ** (-1 / 20)


def write(name, x):
    path = os.path.join(HERE, name + ".flac")
    sf.write(path, normalise(x).astype(np.float32), RATE, subtype="PCM_16")
    print(f"{path}: {len(x) / RATE:.2f} s")


def resample_fft(x, rate_in, rate_out):
    # The 48 kHz speech, band-limited by truncating its spectrum at the new Nyquist.
    from numpy.fft import irfft, rfft
    n_out = int(round(len(x) * rate_out / rate_in))
    spectrum = rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    out[: min(keep, len(spectrum))] = spectrum[: min(keep, len(spectrum))]
    return irfft(out, n_out) * (n_out / len(x))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, notes) in PHRASES.items():
            mid = os.path.join(tmp, name + ".mid")
            wav = os.path.join(tmp, name + ".wav")
            with open(mid, "wb") as f:
                f.write(midi_file(program, notes))
            subprocess.run(
                ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(RATE),
                 "-F", wav, SOUNDFONT, mid],
                check=True,
            )
            x, rate = sf.read(wav, always_2d=True)
            assert rate == RATE
            mono = x.mean(axis=1)
            end_beats = max(s + b for _, s, b, _ in notes)
            mono = mono[: int((end_beats * 0.5 + 0.3) * RATE)]
            write(name, mono)
    parts = []
    for f in SPEECH:
        x, rate = sf.read(os.path.join(ALSA, f), always_2d=True)
        parts.append(resample_fft(x.mean(axis=1), rate, RATE))
    write("speech", np.concatenate(parts))


if __name__ == "__main__":
    main()
