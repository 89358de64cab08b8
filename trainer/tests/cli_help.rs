//! End-to-end: every `ddsp` subcommand's `--help` ends with examples (the README promises
//! them), and every flag an example uses is one the subcommand has, so examples cannot go
//! stale when a flag is renamed, and every bundled file an example names exists.

use ddsp_tests::cli::{ddsp_ok, repo_root};

/// The subcommands `ddsp --help` lists (without clap's own `help`).
fn subcommands() -> Vec<String> {
    let top = ddsp_ok(&["--help"]);
    let listing = top.split("Commands:").nth(1).expect("`ddsp --help` lists its commands");
    let listing = listing.split("Options:").next().unwrap();
    listing
        .lines()
        .filter_map(|line| line.strip_prefix("  ")?.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_subcommand_has_examples_that_use_only_its_own_flags() {
    let names = subcommands();
    for expected in ["analyze", "render", "eval", "info", "play", "downsample", "combine"] {
        assert!(names.iter().any(|n| n == expected), "`ddsp --help` does not list {expected}: {names:?}");
    }
    for name in &names {
        let help = ddsp_ok(&[name, "--help"]);
        let examples_at =
            help.find("Example").unwrap_or_else(|| panic!("`ddsp {name} --help` has no examples:\n{help}"));
        let invocation = format!("ddsp {name} ");
        let examples: Vec<&str> =
            help[examples_at..].lines().map(str::trim).filter(|line| line.starts_with(&invocation)).collect();
        assert!(!examples.is_empty(), "`ddsp {name} --help` shows no `{invocation}...` line:\n{help}");
        for example in examples {
            for flag in example.split_whitespace().filter(|word| word.starts_with("--")) {
                let flag = flag.split('=').next().unwrap();
                let declared = help.lines().any(|line| {
                    line.trim_start().split([',', ' ']).any(|word| word == flag)
                        || line.trim_start().starts_with(&format!("{flag} "))
                });
                assert!(declared, "`ddsp {name} --help` example `{example}` uses {flag}, which {name} does not have");
            }
            // The bundled files an example names are there.
            for file in example.split_whitespace().filter(|word| word.starts_with("examples/")) {
                assert!(
                    repo_root().join(file).exists(),
                    "`ddsp {name} --help` example `{example}` names {file}, which is not in the repository"
                );
            }
        }
    }
}
