//! Property tests of the unified CSV reader on hostile and damaged input: it never panics,
//! whatever it accepts is a valid envelope, and how the bytes arrive (buffer size) never
//! changes the result, and whatever it accepts is written back and read again unchanged. Also:
//! any valid envelope survives a write/read round trip exactly.

use std::io::BufReader;

use ddsp_shared::unified_csv::{parse_str, read_from, to_string};
use ddsp_shared::Envelope;
use proptest::prelude::*;

/// A small file in the seed's exact layout, as the mutations' starting point.
const SEED: &str = include_str!("data/seed_layout.csv");

/// Reads `bytes` and checks what every accepted file must satisfy.
fn read_and_check(bytes: &[u8]) -> Option<Envelope> {
    let result = read_from(bytes);
    // The same bytes through a 1-byte and a 7-byte buffer: lines straddle every fill.
    for capacity in [1, 7] {
        let other = read_from(BufReader::with_capacity(capacity, bytes));
        match (&result, &other) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "buffer of {capacity} bytes changed the envelope"),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "buffer of {capacity} bytes changed the error")
            }
            _ => panic!("buffer of {capacity} bytes changed whether the file loads"),
        }
    }
    match result {
        Ok(env) => {
            env.validate().expect("an accepted file gives a valid envelope");
            assert!(env.frame_count() > 0);
            let text = to_string(&env).expect("an accepted envelope is writable");
            assert_eq!(parse_str(&text).expect("the writer's output reads back"), env);
            Some(env)
        }
        Err(err) => {
            let message = err.to_string();
            assert!(!message.is_empty());
            None
        }
    }
}

/// One way of damaging a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace byte at (position fraction) with a byte.
    Replace(f64, u8),
    /// Insert bytes at a position.
    Insert(f64, Vec<u8>),
    /// Remove a range.
    Remove(f64, usize),
    /// Duplicate the line at a position.
    DuplicateLine(f64),
    /// Swap two lines.
    SwapLines(f64, f64),
    /// Cut the file.
    Truncate(f64),
    /// Replace one field with a tricky token.
    ReplaceField(f64, usize, &'static str),
}

const TRICKY_TOKENS: &[&str] = &[
    "",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "infinity",
    "-0",
    "-1",
    "1e39",
    "1e-50",
    "4095",
    "4096",
    "99999999999999999999",
    "18446744073709551616",
    "0x10",
    "1_000",
    " 3 ",
    "+7",
    ".",
    "-",
    "e",
    "1e",
    "harmonic",
    "noise_band",
    "noise",
    "\u{feff}",
    "\"1\"",
    "12.0",
    "1.5",
    "\r",
    "#",
    "=",
    ",",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let frac = 0.0..1.0f64;
    prop_oneof![
        (frac.clone(), any::<u8>()).prop_map(|(p, b)| Mutation::Replace(p, b)),
        (frac.clone(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(p, b)| Mutation::Insert(p, b)),
        (frac.clone(), 1..64usize).prop_map(|(p, n)| Mutation::Remove(p, n)),
        frac.clone().prop_map(Mutation::DuplicateLine),
        (frac.clone(), frac.clone()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        frac.clone().prop_map(Mutation::Truncate),
        (frac, 0..6usize, prop::sample::select(TRICKY_TOKENS)).prop_map(|(p, c, t)| Mutation::ReplaceField(p, c, t)),
    ]
}

fn at(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Replace(p, b) if len > 0 => bytes[at(*p, len)] = *b,
        Mutation::Insert(p, new) => {
            let i = at(*p, len + 1).min(len);
            bytes.splice(i..i, new.iter().copied());
        }
        Mutation::Remove(p, n) if len > 0 => {
            let i = at(*p, len);
            bytes.drain(i..(i + n).min(len));
        }
        Mutation::Truncate(p) => bytes.truncate(at(*p, len + 1)),
        Mutation::DuplicateLine(_) | Mutation::SwapLines(..) | Mutation::ReplaceField(..) => {
            let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            match mutation {
                Mutation::DuplicateLine(p) => {
                    let line = lines[at(*p, n)].clone();
                    lines.insert(at(*p, n), line);
                }
                Mutation::SwapLines(a, b) => lines.swap(at(*a, n), at(*b, n)),
                Mutation::ReplaceField(p, column, token) => {
                    let line = &mut lines[at(*p, n)];
                    let mut fields: Vec<Vec<u8>> = line.split(|&b| b == b',').map(<[u8]>::to_vec).collect();
                    let c = (*column).min(fields.len() - 1);
                    fields[c] = token.as_bytes().to_vec();
                    *line = fields.join(&b","[..]);
                }
                _ => unreachable!(),
            }
            *bytes = lines.join(&b"\n"[..]);
        }
        _ => {}
    }
}

/// A random valid envelope (numbers of every magnitude, skipped frame indices, extra metadata).
fn envelope() -> impl Strategy<Value = Envelope> {
    let value = prop_oneof![Just(0.0f32), 0.0..1.0f32, 0.0..25_000.0f32, (0.0..1.0f32).prop_map(|v| v * 1e-30)];
    (1..6usize, 0..5usize, 0..5usize, 1.0..1000.0f64, 8000.0..96_000.0f64, prop::bool::ANY)
        .prop_filter("a frame needs a component", |(_, h, b, ..)| h + b > 0)
        .prop_flat_map(move |(frames, h, b, frame_rate, sample_rate, with_extra)| {
            let cells = frames * (2 * h + 2 * b + 1);
            (
                prop::collection::vec(1..5u64, frames),
                prop::collection::vec(value.clone(), cells),
                Just((frames, h, b, frame_rate, sample_rate, with_extra)),
            )
        })
        .prop_map(|(steps, values, (frames, h, b, frame_rate, sample_rate, with_extra))| {
            let mut env = Envelope::silent(frame_rate, sample_rate, frames, h, b, 0.0);
            let mut index = 0;
            for (i, step) in steps.iter().enumerate() {
                env.frame_indices[i] = index;
                index += step;
            }
            let mut v = values.into_iter();
            for x in env
                .f0_hz
                .iter_mut()
                .chain(env.harmonic_freqs_hz.iter_mut())
                .chain(env.harmonic_amps.iter_mut())
                .chain(env.band_centres_hz.iter_mut())
                .chain(env.band_mags.iter_mut())
            {
                *x = v.next().expect("one value per cell");
            }
            if with_extra {
                env.extra_metadata =
                    vec![("source".into(), "violin take 3.wav".into()), ("model".into(), "v=2".into())];
            }
            env
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_and_check(&bytes);
        let mut with_prefix = b"# frame_rate=250,sample_rate=16000\nframe_index,f0_hz,component_type,component_index,frequency,value\n".to_vec();
        with_prefix.extend_from_slice(&bytes);
        read_and_check(&with_prefix);
    }

    #[test]
    fn mutated_seed_files_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut bytes = SEED.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        read_and_check(&bytes);
    }

    #[test]
    fn write_then_read_is_exact(env in envelope()) {
        let text = to_string(&env).expect("a valid envelope is writable");
        let back = parse_str(&text).expect("the writer's output reads back");
        prop_assert_eq!(&back, &env);
        let checked = read_and_check(text.as_bytes());
        prop_assert_eq!(checked.as_ref(), Some(&env));
    }
}

#[test]
fn the_seed_fixture_itself_loads() {
    let env = read_and_check(SEED.as_bytes()).expect("the fixture is valid");
    assert!(env.frame_count() >= 3);
}
