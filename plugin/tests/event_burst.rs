//! A host that restores a project sends the state and then every parameter in one block (a
//! VST3 host also sends the 16 x 130 MIDI controller parameters the wrapper adds: 2113 events
//! in Ardour 7). The plugin's event queues must hold such a block without growing on the audio
//! thread. The wrapper logs "buffer filled up! This will cause an allocation." when one has
//! to grow, so this test sends its bursts through `process` (allocation checks on) with the
//! plugin's log going to a file, and reads the file. Its own process: the log destination is
//! fixed when the plugin library first loads.
//!
//! The wrapper writes its log file from a background thread, so a line reaches the file some
//! time after the call that logged it (on a loaded CI machine, after the test had read the
//! file). The test therefore waits for lines it knows must come: after the first burst it
//! offers a truncated state, which the wrapper refuses with a logged error, and reads the
//! file once that error is there; the log is written in order, so a growth during the burst
//! would be in it too.

use std::path::Path;
use std::time::{Duration, Instant};

use ddsp_tests::clap_host::*;

/// What the wrapper logs when an event queue has to grow.
const GROWS: &str = "buffer filled up";

/// What the wrapper logs when it refuses a truncated state.
const REFUSED_STATE: &str = "Failed to load state";

/// How long a logged line may take to reach the file before the test gives up on it.
const LOG_WAIT: Duration = Duration::from_secs(30);

/// The log's text once it contains `needle`, or `None` with what it holds after `LOG_WAIT`.
fn wait_for_log(log: &Path, needle: &str) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let logged = std::fs::read_to_string(log).unwrap_or_default();
        if logged.contains(needle) {
            return Ok(logged);
        }
        if start.elapsed() > LOG_WAIT {
            return Err(logged);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
    assert!(!instance.try_load_state(&[1, 2, 3]), "a truncated state is refused");
    let logged = wait_for_log(&log, REFUSED_STATE).unwrap_or_else(|logged| {
        panic!("the wrapper's log did not reach {} within {LOG_WAIT:?}:\n{logged}", log.display())
    });
    assert!(!logged.contains(GROWS), "an event queue grew on the audio thread:\n{logged}");

    // A burst beyond the queues' room is reported, so the check above can see a growth.
    instance.process(512, &notes(5000));
    if let Err(logged) = wait_for_log(&log, GROWS) {
        panic!("a 5000-event burst logged no growth within {LOG_WAIT:?}:\n{logged}");
    }
    let _ = std::fs::remove_file(&log);
}
