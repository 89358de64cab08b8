//! Fuzz target: the unified CSV reader on arbitrary bytes. It must never panic; whatever it
//! accepts must be a valid envelope that survives a write/read round trip exactly.
#![no_main]

use ddsp_shared::unified_csv::{parse_str, read_from, to_string};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = read_from(data) {
        env.validate().expect("an accepted file gives a valid envelope");
        let text = to_string(&env).expect("an accepted envelope is writable");
        assert_eq!(parse_str(&text).expect("the writer's output reads back"), env);
    }
});
