//! A host that restores a project sends the state and then every parameter in one block (a
//! VST3 host also sends the 16 x 130 MIDI controller parameters the wrapper adds: 2113 events
//! in Ardour 7). The plugin's event queues must hold such a block without growing on the audio
//! thread. The wrapper logs "buffer filled up! This will cause an allocation." when one has
//! to grow, so this test sends its bursts through `process` (allocation checks on) with the
//! plugin's log going to a file, and reads the file. Its own process: the log destination is
//! fixed when the plugin library first loads.

use ddsp_tests::clap_host::*;

/// What the wrapper logs when an event queue has to grow.
const GROWS: &str = "buffer filled up";

/// `count` note events alternating on and off across the keyboard.
fn notes(count: usize) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let key = 36 + (i / 2 % 48) as i16;
            if i % 2 == 0 {
                note_on(0, key, 0.8)
            } else {
                note_off(0, key)
            }
        })
        .collect()
}

#[test]
fn a_project_restore_burst_fits_the_event_queues_and_a_larger_one_is_reported() {
    let log = std::env::temp_dir().join(format!("ddsp-plugin-burst-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    std::env::set_var("NICE_LOG", &log);
    let mut instance = Instance::new();
    instance.activate();
    let state = instance.save_state();
    instance.load_state(&state);

    // Every parameter 65 times over (2210 events) and 1100 note events in one block.
    let params = instance.params();
    let mut burst: Vec<Event> = Vec::new();
    while burst.len() < 2200 {
        burst.extend(params.iter().map(|p| param(0, p.id, p.default)));
    }
    burst.extend(notes(1100));
    burst.push(note_on(0, 60, 1.0));
    instance.process(512, &burst);
    let out = instance.render(24_000, 512, &[]);
    assert!(peak_abs(&out[out.len() - 4096..]) > 0.01, "the last note of the burst sounds");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logged.contains(GROWS), "an event queue grew on the audio thread:\n{logged}");

    // A burst beyond the queues' room is reported, so the check above can see a growth.
    instance.process(512, &notes(5000));
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains(GROWS), "the wrapper's log did not reach {}:\n{logged}", log.display());
    let _ = std::fs::remove_file(&log);
}
