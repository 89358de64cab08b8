#!/usr/bin/env python3
"""Writes melody.mid, the MIDI example `ddsp play` is tested on (standard library only).

Format 1, 480 ticks per beat, two tracks:
- track 0, the tempo map: 120 bpm, then 90 bpm from beat 2 (1.0 s);
- track 1, channel 0, a monophonic melody (times in seconds):
  A4 vel 100 0.0-0.5 | E5 vel 64 0.5-1.0 | C5 vel 110 1.0-1.667 | G4 vel 90 1.667-2.333,
  with the pitch wheel at +50 % (+1 semitone at a 2-semitone range: G#4) from 2.0 s to 2.333 s.

Run: python3 examples/midi/make_melody.py  (writes examples/midi/melody.mid)
"""
import os
import struct

TPB = 480


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track(events):
    """events: (tick, bytes) in order; returns an MTrk chunk ending with end-of-track."""
    body, last = b"", 0
    for tick, data in events:
        body += vlq(tick - last) + data
        last = tick
    body += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def tempo(bpm):
    return b"\xff\x51\x03" + struct.pack(">I", round(60_000_000 / bpm))[1:]


def note(on, key, vel=0):
    return bytes([0x90 if on else 0x80, key, vel])


def bend(fraction):
    value = round(8192 + fraction * 8191)
    return bytes([0xE0, value & 0x7F, value >> 7])


tempo_map = [(0, tempo(120)), (2 * TPB, tempo(90))]
melody = [
    (0, note(True, 69, 100)), (1 * TPB, note(False, 69)),
    (1 * TPB, note(True, 76, 64)), (2 * TPB, note(False, 76)),
    (2 * TPB, note(True, 72, 110)), (3 * TPB, note(False, 72)),
    (3 * TPB, note(True, 67, 90)),
    (3 * TPB + TPB // 2, bend(0.5)),
    (4 * TPB, note(False, 67)), (4 * TPB, bend(0.0)),
]
header = b"MThd" + struct.pack(">IHHH", 6, 1, 2, TPB)
if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "melody.mid")
    with open(path, "wb") as f:
        f.write(header + track(tempo_map) + track(melody))
    print(path)
