//! The built plugin, loaded through its CLAP entry point like a DAW loads it: parameters,
//! pitch, stretch, automation, release and pitch bend, measured on the audio it renders.

use ddsp_tests::clap_host::*;

/// Every parameter id the plugin must expose: the save format, never to be renamed.
const PARAM_IDS: [&str; 34] = [
    "source", "tet", "pitch", "stretch", "anchmode", "anchhz", "bounce", "bncmin", "bncmax", "bnchz", "bncjit",
    "bncdur", "harmvol", "partgain", "noisevol", "noisemag", "smooth", "gain", "start", "frames", "loop", "rate",
    "updhz", "play", "sync", "root", "keymode", "velsens", "attack", "decay", "sustain", "release", "bendrng",
    "voices",
];

const F0_HZ: f32 = 200.0;
/// Harmonics 1..3 of the test tone; the fundamental is the strongest.
const AMPS: [f32; 3] = [0.5, 0.15, 0.1];

/// An activated instance playing the steady 200 Hz test tone (imported through the state, the
/// way a saved "Import CSV…" comes back), with `setup` parameter changes applied first.
fn instance_with_tone(setup: &[(&str, &str)]) -> Instance {
    let instance = Instance::new();
    let csv = steady_tone_csv(F0_HZ, &AMPS, 300);
    let state = state_with_csv(&instance.save_state(), "/tmp/test-tone.csv", &csv);
    instance.load_state(&state);
    let events: Vec<Event> =
        setup.iter().map(|(id, text)| param(0, param_hash(id), instance.text_to_value(id, text))).collect();
    instance.flush(&events);
    let mut instance = instance;
    instance.activate();
    instance
}

/// Seconds to samples at the test rate.
fn samples(seconds: f64) -> usize {
    (seconds * SAMPLE_RATE_HZ) as usize
}

#[test]
fn the_host_sees_every_parameter_automatable_under_its_permanent_id() {
    let instance = Instance::new();
    let params = instance.params();
    assert_eq!(
        params.len(),
        PARAM_IDS.len(),
        "parameter count: {:?}",
        params.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    for id in PARAM_IDS {
        let info =
            params.iter().find(|p| p.id == param_hash(id)).unwrap_or_else(|| panic!("no parameter with id {id:?}"));
        assert!(info.automatable, "{id} must be automatable");
        assert!(info.min <= info.default && info.default <= info.max, "{id} default inside its range");
    }
    // A plain value round-trips through the host's text entry.
    let stretch = instance.text_to_value("stretch", "1");
    assert!((stretch - instance.get_value("stretch")).abs() < 1e-6, "stretch 1 is the default");
}

#[test]
fn a_fresh_instance_plays_its_built_in_sound() {
    let mut instance = Instance::new();
    instance.activate();
    let out = instance.render(samples(0.5), 512, &[(0, note_on(0, 60, 1.0))]);
    let tail = &out[out.len() - 8192..];
    assert!(peak_abs(tail) > 0.01, "the built-in sound is audible: {}", peak_abs(tail));
}

#[test]
fn the_root_note_plays_the_data_pitch_and_a_fifth_above_is_three_halves() {
    let mut root = instance_with_tone(&[]);
    let out = root.render(samples(0.5), 512, &[(0, note_on(0, 60, 1.0))]);
    let root_hz = peak_hz(&out[out.len() - 16384..]);
    assert!((root_hz - F0_HZ as f64).abs() < 0.5, "root note at {root_hz} Hz, expected {F0_HZ}");

    let mut fifth = instance_with_tone(&[]);
    let out = fifth.render(samples(0.5), 512, &[(0, note_on(0, 67, 1.0))]);
    let fifth_hz = peak_hz(&out[out.len() - 16384..]);
    let ratio = fifth_hz / root_hz;
    assert!((ratio - 2f64.powf(7.0 / 12.0)).abs() < 0.002, "fifth / root = {ratio}");
}

#[test]
fn in_24_tet_key_mode_one_key_is_a_quarter_tone() {
    let mut instance = instance_with_tone(&[("tet", "24")]);
    let out = instance.render(samples(0.5), 512, &[(0, note_on(0, 62, 1.0))]);
    let hz = peak_hz(&out[out.len() - 16384..]);
    let expected = F0_HZ as f64 * 2f64.powf(2.0 / 24.0);
    assert!((hz - expected).abs() < 0.6, "two quarter tones up: {hz} Hz, expected {expected}");
}

#[test]
fn pitch_bend_moves_every_sounding_voice_by_the_bend_range() {
    let mut instance = instance_with_tone(&[("bendrng", "2")]);
    let events = [(0, note_on(0, 60, 1.0)), (samples(0.1), pitch_bend(0, 16383))];
    let out = instance.render(samples(0.6), 512, &events);
    let hz = peak_hz(&out[out.len() - 16384..]);
    let expected = F0_HZ as f64 * 2f64.powf(2.0 * (16383.0 / 8192.0 - 1.0) / 12.0);
    assert!((hz - expected).abs() < 0.6, "bent to {hz} Hz, expected {expected}");
}

#[test]
fn stretch_automation_moves_the_partials_within_the_block_it_arrives_in() {
    // Fast smoothing so the new stretch settles inside the block under test.
    let setup = [("smooth", "1")];
    let mut automated = instance_with_tone(&setup);
    let mut reference = instance_with_tone(&setup);
    let start = [(0, note_on(0, 60, 1.0))];
    let lead_in = samples(0.3);
    assert_eq!(automated.render(lead_in, 512, &start), reference.render(lead_in, 512, &start));

    // One 4096-sample block; stretch goes to 2 at sample 1024 of it.
    let stretch_2 = automated.text_to_value("stretch", "2");
    let event_at = 1024;
    let with_event = automated.process(4096, &[param(event_at, param_hash("stretch"), stretch_2)]);
    let without = reference.process(4096, &[]);
    assert_eq!(with_event[..event_at as usize], without[..event_at as usize], "nothing changes before the event");
    assert_ne!(with_event[event_at as usize..], without[event_at as usize..], "the sound changes after it");

    // With stretch 2 around f0, harmonic 3 (600 Hz) moves to 200 * 3^2 = 1800 Hz.
    let tail_stretched = &with_event[2048..];
    let tail_plain = &without[2048..];
    assert!(level_at(tail_plain, 600.0) > 10.0 * level_at(tail_plain, 1800.0), "unstretched: energy at 600 Hz");
    assert!(
        level_at(tail_stretched, 1800.0) > 10.0 * level_at(tail_stretched, 600.0),
        "stretched: energy moved to 1800 Hz ({} vs {})",
        level_at(tail_stretched, 1800.0),
        level_at(tail_stretched, 600.0)
    );
}

#[test]
fn bounce_makes_the_stretch_swing_over_time() {
    let mut instance =
        instance_with_tone(&[("bounce", "on"), ("bncmin", "1"), ("bncmax", "2"), ("bnchz", "2"), ("smooth", "1")]);
    let out = instance.render(samples(1.0), 512, &[(0, note_on(0, 60, 1.0))]);
    // Harmonic 2 swings between 400 Hz (stretch 1) and 800 Hz (stretch 2): short-time peaks of
    // the band above the fundamental must cover most of that span.
    let mut second_partial_hz = Vec::new();
    for window in out[samples(0.05)..].chunks_exact(2048) {
        let mags = spectrum(window);
        let bin_hz = SAMPLE_RATE_HZ / 2048.0;
        let (lo, hi) = ((300.0 / bin_hz) as usize, (900.0 / bin_hz) as usize);
        let k = (lo..hi).max_by(|&a, &b| mags[a].total_cmp(&mags[b])).unwrap();
        second_partial_hz.push(k as f64 * bin_hz);
    }
    let lowest = second_partial_hz.iter().copied().fold(f64::MAX, f64::min);
    let highest = second_partial_hz.iter().copied().fold(0.0, f64::max);
    assert!(lowest < 500.0 && highest > 700.0, "harmonic 2 ranged {lowest}..{highest} Hz");
}

#[test]
fn a_released_note_falls_silent_after_the_release_time() {
    let mut instance = instance_with_tone(&[("release", "100")]);
    let events = [(0, note_on(0, 60, 1.0)), (samples(0.3), note_off(0, 60))];
    let out = instance.render(samples(0.6), 256, &events);
    assert!(peak_abs(&out[samples(0.2)..samples(0.3)]) > 0.1, "the note sounds before release");
    assert!(peak_abs(&out[samples(0.3)..samples(0.32)]) > 0.01, "the release fades, it does not cut");
    assert_eq!(peak_abs(&out[samples(0.41)..]), 0.0, "silent once the 100 ms release is over");
}

#[test]
fn held_notes_follow_a_change_of_tet_and_root() {
    let mut instance = instance_with_tone(&[("smooth", "1")]);
    let tet_24 = instance.text_to_value("tet", "24");
    let root_62 = instance.text_to_value("root", "62");
    let events = [
        (0, note_on(0, 62, 1.0)),
        (samples(0.4), param(0, param_hash("tet"), tet_24)),
        (samples(0.8), param(0, param_hash("root"), root_62)),
    ];
    let out = instance.render(samples(1.2), 512, &events);
    let hz_at = |end_s: f64| peak_hz(&out[samples(end_s) - 16384..samples(end_s)]);
    let cases = [
        (0.4, F0_HZ as f64 * 2f64.powf(2.0 / 12.0), "two semitones above the root"),
        (0.8, F0_HZ as f64 * 2f64.powf(2.0 / 24.0), "two quarter tones after TET 24"),
        (1.2, F0_HZ as f64, "the root itself after root 62"),
    ];
    for (end_s, want, what) in cases {
        let hz = hz_at(end_s);
        assert!((hz - want).abs() < 0.6, "held key 62, {what}: {hz} Hz, expected {want}");
    }
}

#[test]
fn lowering_voices_releases_the_oldest_sounding_notes() {
    let mut instance = instance_with_tone(&[("release", "10")]);
    let one = instance.text_to_value("voices", "1");
    let voices_1 = (samples(0.5), param(0, param_hash("voices"), one));
    let events = [(0, note_on(0, 60, 1.0)), (0, note_on(0, 64, 1.0)), (0, note_on(0, 67, 1.0)), voices_1];
    let out = instance.render(samples(1.0), 512, &events);
    let (before, after) = (&out[samples(0.5) - 16384..samples(0.5)], &out[out.len() - 16384..]);
    let hz = |key: f64| F0_HZ as f64 * 2f64.powf((key - 60.0) / 12.0);
    let newest_before = level_at(before, hz(67.0));
    for key in [60.0, 64.0] {
        assert!(level_at(before, hz(key)) > 0.5 * newest_before, "key {key} sounds before");
    }
    let newest_after = level_at(after, hz(67.0));
    assert!(newest_after > 0.5 * newest_before, "the newest note keeps sounding");
    for key in [60.0, 64.0] {
        assert!(level_at(after, hz(key)) < 0.01 * newest_after, "key {key} was released");
    }
}

#[test]
fn a_state_load_then_a_burst_of_every_parameter_in_one_block_does_not_allocate() {
    // What a VST3 host does when it restores a project: the state, then every parameter in
    // one block (Ardour 7 sends 2113: ours and the wrapper's MIDI controller parameters). The
    // events go through `process` with allocation checks on: a queue that had to grow would
    // abort the test.
    let mut instance = instance_with_tone(&[]);
    let state = instance.save_state();
    instance.load_state(&state);
    let params = instance.params();
    let mut events: Vec<Event> = Vec::new();
    while events.len() < 2200 {
        events.extend(params.iter().map(|p| param(0, p.id, p.default)));
    }
    events.push(note_on(0, 60, 1.0));
    let out = instance.process(512, &events);
    let out = [out, instance.render(samples(0.3), 512, &[])].concat();
    let hz = peak_hz(&out[out.len() - 8192..]);
    assert!((hz - F0_HZ as f64).abs() < 3.0, "the note after the burst plays at {hz} Hz");
}

#[test]
fn block_size_does_not_change_the_sound() {
    let events = [(0, note_on(0, 60, 0.8)), (samples(0.1), note_on(0, 64, 0.5)), (samples(0.2), note_off(0, 60))];
    let mut small = instance_with_tone(&[("stretch", "1.5")]);
    let mut large = instance_with_tone(&[("stretch", "1.5")]);
    let a = small.render(samples(0.3), 64, &events);
    let b = large.render(samples(0.3), 4096, &events);
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "64- and 4096-sample blocks differ by {worst}");
}

/// A CSV of 1 s at 100 frames/s: `first_hz` for the first half, `second_hz` after it, with
/// harmonic amplitudes `amps`.
fn two_halves_csv(first_hz: f32, second_hz: f32, amps: &[f32]) -> String {
    let mut csv = String::from(
        "# frame_rate=100,sample_rate=48000\nframe_index,f0_hz,component_type,component_index,frequency,value\n",
    );
    for i in 0..100 {
        let f0 = if i < 50 { first_hz } else { second_hz };
        for (k, amp) in amps.iter().enumerate() {
            csv.push_str(&format!("{i},{f0},harmonic,{k},{},{amp}\n", f0 * (k + 1) as f32));
        }
        csv.push_str(&format!("{i},{f0},noise_band,0,0,0\n"));
    }
    csv
}

#[test]
fn importing_a_csv_while_a_note_sounds_goes_on_at_the_note_s_position() {
    // A note plays into the second half (300 Hz) of one file; a file of the same timeline but
    // another timbre arrives. The note goes on in the second half of the new sound, instead
    // of starting it over from its first half (200 Hz).
    let instance = Instance::new();
    let state = state_with_csv(&instance.save_state(), "/tmp/halves-a.csv", &two_halves_csv(200.0, 300.0, &[0.5]));
    instance.load_state(&state);
    let mut instance = instance;
    instance.activate();
    let before = instance.render(samples(0.7), 512, &[(0, note_on(0, 60, 1.0))]);
    assert!((peak_hz(&before[samples(0.6)..]) - 300.0).abs() < 5.0);
    let brighter = two_halves_csv(200.0, 300.0, &[0.5, 0.4, 0.3]);
    instance.load_state(&state_with_csv(&instance.save_state(), "/tmp/halves-b.csv", &brighter));
    let after = instance.render(samples(0.2), 512, &[]);
    let hz = peak_hz(&after[samples(0.05)..samples(0.2)]);
    assert!((hz - 300.0).abs() < 5.0, "after the import the note plays on at 300 Hz, got {hz}");
    let tail = &after[samples(0.05)..samples(0.2)];
    assert!(level_at(tail, 900.0) > 0.3 * level_at(tail, 300.0), "the new (brighter) sound plays");
}

/// With host sync on, the Play voice follows the song position: a CSV whose first half sounds
/// at 200 Hz and second half at 300 Hz plays 300 Hz when the host plays from 0.7 s, 200 Hz from
/// 0.1 s, and moves when the host jumps.
#[test]
fn host_sync_follows_the_song_position_and_its_jumps() {
    let mut csv = String::from(
        "# frame_rate=100,sample_rate=48000\nframe_index,f0_hz,component_type,component_index,frequency,value\n",
    );
    for i in 0..100 {
        let f0 = if i < 50 { 200.0 } else { 300.0 };
        csv.push_str(&format!("{i},{f0},harmonic,0,{f0},0.5\n{i},{f0},noise_band,0,0,0\n"));
    }
    let block = 512usize;
    let play_from = |instance: &mut Instance, pos_s: f64, seconds: f64| -> Vec<f32> {
        let blocks = samples(seconds) / block;
        let mut out = Vec::new();
        for b in 0..blocks {
            instance.transport = Some(playing_transport(pos_s + (b * block) as f64 / SAMPLE_RATE_HZ));
            out.extend(instance.process(block as u32, &[]));
        }
        out
    };
    let instance = Instance::new();
    let state = state_with_csv(&instance.save_state(), "/tmp/two-halves.csv", &csv);
    instance.load_state(&state);
    instance.flush(&[param(0, param_hash("sync"), 1.0), param(0, param_hash("loop"), 1.0)]);
    let mut instance = instance;
    instance.activate();

    // Transport starts at 0.7 s: second half.
    let late = play_from(&mut instance, 0.7, 0.15);
    let hz = peak_hz(&late[samples(0.05)..]);
    assert!((hz - 300.0).abs() < 5.0, "playing from 0.7 s should sound 300 Hz, got {hz}");
    // The host locates back to 0.1 s while playing: first half.
    let early = play_from(&mut instance, 0.1, 0.15);
    let hz = peak_hz(&early[samples(0.05)..]);
    assert!((hz - 200.0).abs() < 5.0, "after the jump to 0.1 s it should sound 200 Hz, got {hz}");
    // And running on from there it reaches the second half at its time (0.5 s).
    let on = play_from(&mut instance, 0.25, 0.45);
    let hz = peak_hz(&on[samples(0.33)..]);
    assert!((hz - 300.0).abs() < 5.0, "running on past 0.5 s it should sound 300 Hz, got {hz}");
}

/// Frequency of the lowest strong spectral peak (within 26 dB of the strongest), Hz: the
/// fundamental of a harmonic tone whatever partial is loudest.
fn fundamental_hz(samples: &[f32]) -> f64 {
    let mags = spectrum(samples);
    let max = mags.iter().skip(1).copied().fold(0.0f32, f32::max);
    let bin_hz = SAMPLE_RATE_HZ / samples.len() as f64;
    let k = (((50.0 / bin_hz) as usize).max(1)..mags.len() - 1)
        .find(|&k| mags[k] > 0.05 * max && mags[k] >= mags[k - 1] && mags[k] >= mags[k + 1])
        .expect("a peak");
    let (a, b, c) = (mags[k - 1] as f64, mags[k] as f64, mags[k + 1] as f64);
    (k as f64 + 0.5 * (a - c) / (a - 2.0 * b + c)) * bin_hz
}

/// An activated instance in Model mode playing its built-in model.
fn model_instance() -> Instance {
    let instance = Instance::new();
    instance.flush(&[param(0, param_hash("source"), instance.text_to_value("source", "Model"))]);
    let mut instance = instance;
    instance.activate();
    instance
}

#[test]
fn in_model_mode_keys_sound_at_their_pitch_and_chords_hold_both() {
    for (key, expected) in [(69, 440.0), (76, 659.255)] {
        let mut instance = model_instance();
        let out = instance.render(samples(1.0), 512, &[(0, note_on(0, key, 1.0))]);
        let hz = fundamental_hz(&out[out.len() - 32768..]);
        assert!((hz - expected).abs() < 1.0, "key {key}: fundamental {hz} Hz, expected {expected}");
    }
    let mut instance = model_instance();
    let out = instance.render(samples(1.0), 512, &[(0, note_on(0, 69, 1.0)), (0, note_on(0, 76, 1.0))]);
    let tail = &out[out.len() - 32768..];
    let (a, e, between) = (level_at(tail, 440.0), level_at(tail, 659.255), level_at(tail, 550.0));
    assert!(a > 10.0 * between && e > 10.0 * between, "both notes of the chord: {a}, {e} against {between}");
}

#[test]
fn in_model_mode_a_louder_velocity_is_louder() {
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let mut soft = model_instance();
    let soft = soft.render(samples(0.6), 512, &[(0, note_on(0, 64, 0.2))]);
    let mut loud = model_instance();
    let loud = loud.render(samples(0.6), 512, &[(0, note_on(0, 64, 1.0))]);
    let ratio_db = 20.0 * (rms(&loud[9600..]) / rms(&soft[9600..])).log10();
    assert!(ratio_db > 3.0, "full velocity is {ratio_db:.1} dB above velocity 0.2");
}

#[test]
fn switching_the_source_while_a_note_sounds_keeps_playing() {
    // `process` runs with allocation checks on (assert_process_allocs): a switch that
    // allocated on the audio thread would abort here.
    let mut instance = Instance::new();
    instance.activate();
    let model = instance.text_to_value("source", "Model");
    let csv = instance.text_to_value("source", "CSV");
    let events = [
        (0, note_on(0, 60, 1.0)),
        (samples(0.2), param(0, param_hash("source"), model)),
        (samples(0.5), param(0, param_hash("source"), csv)),
        (samples(0.7), param(0, param_hash("source"), model)),
    ];
    let out = instance.render(samples(1.0), 512, &events);
    for (from, to) in [(0.1, 0.2), (0.3, 0.5), (0.55, 0.7), (0.8, 1.0)] {
        assert!(peak_abs(&out[samples(from)..samples(to)]) > 0.005, "silent between {from} and {to} s");
    }
}

#[test]
fn importing_a_model_while_a_note_sounds_swaps_it_in_without_a_click() {
    // The import reaches `process` through the same exchange as the GUI's "Import Model…",
    // with allocation checks on: a swap that allocated or freed on the audio thread would abort.
    let mut instance = model_instance();
    let before = instance.render(samples(0.4), 512, &[(0, note_on(0, 69, 1.0))]);
    let bytes = breathy_model_bytes();
    instance.load_state(&state_with_model(&instance.save_state(), "/imported/breathy.ddsp", &bytes));
    let after = instance.render(samples(0.6), 512, &[]);
    assert!(peak_abs(&after[..samples(0.1)]) > 0.01, "the held note goes on through the import");
    let jump = (after[0] - before[before.len() - 1]).abs();
    let typical_step = before.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
    assert!(jump <= typical_step, "no click at the swap: step {jump} against at most {typical_step} before");
    // The new model is what sings now: its noise fills the spectrum between the partials.
    let between = |x: &[f32]| level_at(x, 550.0);
    assert!(
        between(&after[after.len() - 16384..]) > 4.0 * between(&before[before.len() - 16384..]),
        "the imported (breathier) model plays after the swap"
    );
}

#[test]
fn in_model_mode_stretch_moves_what_the_model_sings() {
    let f0_hz = 261.626;
    let held = |stretch: &str| {
        let mut instance = model_instance();
        let setup = [("smooth", "1"), ("stretch", stretch)];
        let events: Vec<(usize, Event)> = setup
            .iter()
            .map(|(id, text)| (0, param(0, param_hash(id), instance.text_to_value(id, text))))
            .chain([(0, note_on(0, 60, 1.0))])
            .collect();
        let out = instance.render(samples(0.8), 512, &events);
        out[out.len() - 16384..].to_vec()
    };
    let (plain, stretched) = (held("1"), held("2"));
    // Stretch 2 around f0 moves harmonic 3 to f0 · 3² (harmonic 9's place unstretched).
    let (third, moved) = (3.0 * f0_hz, 9.0 * f0_hz);
    assert!(level_at(&plain, third) > 10.0 * level_at(&stretched, third), "harmonic 3 leaves {third:.0} Hz");
    assert!(
        level_at(&stretched, moved) > 10.0 * level_at(&stretched, 0.5 * (third + moved)),
        "stretched: a partial at {moved:.0} Hz stands out of the noise"
    );
}
