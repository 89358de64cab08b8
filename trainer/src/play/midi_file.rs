//! Standard MIDI files (format 0 and 1) read into timed note events: note on and off with
//! velocity, pitch bend, and every tempo change applied, so each event carries its time in
//! seconds. Parsing is midly's; what a player needs is here.

use std::path::Path;

use anyhow::{bail, Context};
use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

/// Largest MIDI file read, bytes (a dense hour-long piano performance is a few MB).
pub const MAX_MIDI_BYTES: u64 = 64 * 1024 * 1024;

/// The tempo a file without a tempo event plays at: 120 beats per minute, as the standard says.
const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

/// What happens at a moment of the song.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MidiEventKind {
    /// A key goes down with `velocity` (0..1; a note-on of velocity 0 is a note-off).
    NoteOn { channel: u8, key: u8, velocity: f32 },
    /// A key is released.
    NoteOff { channel: u8, key: u8 },
    /// The pitch wheel moves, -1..1 (0 = centre).
    PitchBend { channel: u8, bend: f32 },
}

/// A note event at its time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidiEvent {
    /// Seconds from the start of the song.
    pub time_s: f64,
    pub kind: MidiEventKind,
}

/// Reads `path` into events sorted by time (events at the same time keep the file's order,
/// tracks in order).
pub fn read_midi_file(path: &Path) -> anyhow::Result<Vec<MidiEvent>> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > MAX_MIDI_BYTES {
        bail!("{} is {size} bytes; MIDI files up to {MAX_MIDI_BYTES} bytes are read", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_midi(&bytes).with_context(|| format!("{} is not a usable MIDI file", path.display()))
}

/// Parses the bytes of a standard MIDI file (see [`read_midi_file`]).
pub fn parse_midi(bytes: &[u8]) -> anyhow::Result<Vec<MidiEvent>> {
    let smf = Smf::parse(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    if smf.header.format == midly::Format::Sequential {
        bail!("format 2 (independent sequences) is not supported; save it as format 1 (one song, several tracks)");
    }
    // Every event at its absolute tick, with its track and position for a stable order.
    struct Timed {
        tick: u64,
        track: usize,
        index: usize,
        kind: Option<MidiEventKind>,
        tempo: Option<u32>,
    }
    let mut timed = Vec::new();
    for (track_index, track) in smf.tracks.iter().enumerate() {
        let mut tick = 0u64;
        for (index, event) in track.iter().enumerate() {
            tick += event.delta.as_int() as u64;
            let (kind, tempo) = match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let channel = channel.as_int();
                    let kind = match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => Some(MidiEventKind::NoteOn {
                            channel,
                            key: key.as_int(),
                            velocity: vel.as_int() as f32 / 127.0,
                        }),
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            Some(MidiEventKind::NoteOff { channel, key: key.as_int() })
                        }
                        MidiMessage::PitchBend { bend } => {
                            Some(MidiEventKind::PitchBend { channel, bend: bend.as_f32() })
                        }
                        _ => None,
                    };
                    (kind, None)
                }
                TrackEventKind::Meta(MetaMessage::Tempo(micros)) => (None, Some(micros.as_int())),
                _ => (None, None),
            };
            if kind.is_some() || tempo.is_some() {
                timed.push(Timed { tick, track: track_index, index, kind, tempo });
            }
        }
    }
    timed.sort_by_key(|t| (t.tick, t.track, t.index));

    let mut events = Vec::new();
    match smf.header.timing {
        Timing::Metrical(ticks_per_beat) => {
            let ticks_per_beat = ticks_per_beat.as_int();
            if ticks_per_beat == 0 {
                bail!("the header gives 0 ticks per beat");
            }
            // Seconds advance at the tempo in force since the last tempo change.
            let (mut last_tick, mut last_s, mut micros_per_beat) = (0u64, 0.0f64, DEFAULT_MICROS_PER_BEAT);
            for t in timed {
                let time_s =
                    last_s + (t.tick - last_tick) as f64 * micros_per_beat as f64 * 1e-6 / ticks_per_beat as f64;
                last_tick = t.tick;
                last_s = time_s;
                if let Some(tempo) = t.tempo {
                    micros_per_beat = tempo.max(1);
                }
                if let Some(kind) = t.kind {
                    events.push(MidiEvent { time_s, kind });
                }
            }
        }
        Timing::Timecode(fps, subframes) => {
            // Fixed ticks per second; tempo events do not apply.
            let ticks_per_s = fps.as_f32() as f64 * subframes.max(1) as f64;
            events.extend(
                timed.iter().filter_map(|t| t.kind.map(|kind| MidiEvent { time_s: t.tick as f64 / ticks_per_s, kind })),
            );
        }
    }
    if !events.iter().any(|e| matches!(e.kind, MidiEventKind::NoteOn { .. })) {
        bail!("it holds no notes");
    }
    Ok(events)
}

/// The first moment two notes sound at once, with their keys, or `None` for a monophonic
/// file.
pub fn first_overlap(events: &[MidiEvent]) -> Option<(f64, u8, u8)> {
    let mut held: Option<(u8, u8)> = None;
    for e in events {
        match e.kind {
            MidiEventKind::NoteOn { channel, key, .. } => {
                if let Some((_, other)) = held {
                    return Some((e.time_s, other, key));
                }
                held = Some((channel, key));
            }
            MidiEventKind::NoteOff { channel, key } => {
                if held == Some((channel, key)) {
                    held = None;
                }
            }
            MidiEventKind::PitchBend { .. } => {}
        }
    }
    None
}

/// Name of a MIDI key, e.g. 60 → "C4".
pub fn key_name(key: u8) -> String {
    const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    format!("{}{}", NAMES[key as usize % 12], key as i32 / 12 - 1)
}
