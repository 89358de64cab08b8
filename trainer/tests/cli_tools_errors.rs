//! What every envelope tool promises on bad input: clear errors naming the file, the input
//! never overwritten, nothing half written, and `--help` with an example.

mod cli_tools_support;

use cli_tools_support::*;

const TOOLS: [&str; 6] = ["csv", "downsample", "combine", "enrich", "modify", "map"];

/// A small valid CSV made from the numpy fixture.
fn small_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    ddsp_ok(dir, &["csv", fixture.to_str().unwrap(), "-o", "in.csv"]);
    dir.join("in.csv")
}

/// Everything in `dir`, sorted (to prove nothing was added or left behind).
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn every_tool_has_help_with_an_example() {
    let scratch = scratch("help");
    let dir = scratch.path();
    for tool in TOOLS {
        let help = ddsp_ok(dir, &[tool, "--help"]);
        assert!(help.contains("Example") && help.contains(&format!("ddsp {tool} ")), "ddsp {tool} --help:\n{help}");
    }
}

#[test]
fn no_tool_overwrites_its_input_even_by_another_name() {
    let scratch = scratch("overwrite");
    let dir = scratch.path();
    let input = small_csv(dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let before = std::fs::read(&input).unwrap();
    let cases: [&[&str]; 5] = [
        &["downsample", "in.csv", "-o", "sub/../in.csv", "--frame-step", "2"],
        &["combine", "in.csv", "-o", "./in.csv"],
        &["enrich", "in.csv", "-o", "in.csv"],
        &["modify", "in.csv", "-o", "sub/../in.csv", "--fix-pitch", "100"],
        &["map", "in.csv", "-o", "in.csv", "--target", "tet:12"],
    ];
    for args in cases {
        let err = ddsp_err(dir, args);
        assert!(err.contains("refusing to overwrite the input"), "{args:?}: {err}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{args:?} changed the input");
    }
    let fixture = npz_fixture("chunk_00_envelopes.npz");
    std::fs::copy(&fixture, dir.join("chunk.npz")).unwrap();
    let err = ddsp_err(dir, &["combine", "chunk.npz", "-o", "chunk.npz"]);
    assert!(err.contains("refusing to overwrite the input"), "{err}");
    assert_eq!(std::fs::read(dir.join("chunk.npz")).unwrap(), std::fs::read(&fixture).unwrap());
    assert_eq!(listing(dir), ["chunk.npz", "in.csv", "sub"]);
}

#[test]
fn a_malformed_csv_is_named_with_its_line_and_nothing_is_written() {
    let scratch = scratch("malformed");
    let dir = scratch.path();
    let input = small_csv(dir);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text = text.replacen("harmonic,2,", "harmonic,2,not_a_number", 1);
    std::fs::write(dir.join("bad.csv"), text).unwrap();
    std::fs::write(dir.join("out.csv"), "what the user had").unwrap();
    for args in [
        &["downsample", "bad.csv", "-o", "out.csv", "--frame-step", "2"][..],
        &["enrich", "bad.csv", "-o", "out.csv"],
        &["modify", "bad.csv", "-o", "out.csv", "--time-scale", "2"],
        &["map", "bad.csv", "-o", "out.csv", "--target", "1,2,3"],
        &["combine", "in.csv", "bad.csv", "-o", "out.csv"],
    ] {
        let err = ddsp_err(dir, args);
        assert!(err.contains("bad.csv") && err.contains("line 5"), "{args:?}: {err}");
        assert_eq!(std::fs::read_to_string(dir.join("out.csv")).unwrap(), "what the user had");
    }
    assert_eq!(listing(dir), ["bad.csv", "in.csv", "out.csv"]);
}

#[test]
fn an_archive_without_the_original_keys_is_named() {
    let scratch = scratch("badnpz");
    let dir = scratch.path();
    // A zip that is not an envelope archive, and a file that is not a zip at all.
    std::fs::write(dir.join("text.npz"), "not a zip").unwrap();
    let err = ddsp_err(dir, &["csv", "text.npz", "-o", "out.csv"]);
    assert!(err.contains("text.npz") && err.contains("not an .npz"), "{err}");
    assert!(!dir.join("out.csv").exists());
}

#[test]
fn bad_option_values_are_explained() {
    let scratch = scratch("badopts");
    let dir = scratch.path();
    small_csv(dir);
    let err = ddsp_err_usage(dir, &["modify", "in.csv", "-o", "o.csv", "--freq-range", "2000-60"]);
    assert!(err.contains("LO:HI"), "{err}");
    let err = ddsp_err_usage(dir, &["modify", "in.csv", "-o", "o.csv", "--remap-partials", "0:0,1-2"]);
    assert!(err.contains("`1-2`"), "{err}");
    let err = ddsp_err(dir, &["modify", "in.csv", "-o", "o.csv", "--freq-range", "100:9000"]);
    assert!(err.contains("Nyquist"), "{err}");
    let err = ddsp_err(dir, &["map", "in.csv", "-o", "o.csv", "--target", "tet:0"]);
    assert!(err.contains("tet:0"), "{err}");
    let err = ddsp_err(dir, &["enrich", "in.csv", "-o", "o.csv", "--sample-rate", "16000"]);
    assert!(err.contains("nothing to add") && err.contains("in.csv"), "{err}");
    let err = ddsp_err_usage(dir, &["downsample", "in.csv", "-o", "o.csv", "--frame-step", "0"]);
    assert!(err.contains("--frame-step"), "{err}");
    assert!(!dir.join("o.csv").exists());
}

/// clap reports usage errors with exit code 2.
fn ddsp_err_usage(dir: &std::path::Path, args: &[&str]) -> String {
    let out = ddsp_in(dir, args);
    assert_eq!(out.status.code(), Some(2), "ddsp {args:?} should be a usage error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
