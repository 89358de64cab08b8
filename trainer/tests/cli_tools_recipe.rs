//! The recipe in docs/TOOLS.md works as written: every command between its `recipe:start` and
//! `recipe:end` markers is run, in order, in a scratch folder that sees the repository's
//! `examples/`, and each output it names must then exist and read back.

mod cli_tools_support;

use cli_tools_support::*;

/// The shell lines of the recipe block (comments and blank lines dropped).
fn recipe_lines() -> Vec<String> {
    let doc = std::fs::read_to_string(repo_root().join("docs/TOOLS.md")).unwrap();
    let start = doc.find("<!-- recipe:start").expect("docs/TOOLS.md has a recipe:start marker");
    let end = doc.find("<!-- recipe:end").expect("docs/TOOLS.md has a recipe:end marker");
    doc[start..end]
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_tools_recipe_runs_as_written() {
    let scratch = scratch("recipe");
    let dir = scratch.path();
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo_root().join("examples"), dir.join("examples")).unwrap();
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir.join("examples")).unwrap();
        std::fs::copy(repo_root().join("examples/violin_phrase_44k.wav"), dir.join("examples/violin_phrase_44k.wav"))
            .unwrap();
    }
    let lines = recipe_lines();
    assert!(lines.iter().filter(|l| l.starts_with("ddsp ")).count() >= 5, "{lines:?}");
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["mkdir", "-p", folders @ ..] => folders.iter().for_each(|f| std::fs::create_dir_all(dir.join(f)).unwrap()),
            ["ddsp", args @ ..] => {
                ddsp_ok(dir, args);
                let output =
                    args.iter().position(|&a| a == "-o").map(|i| args[i + 1]).expect("every recipe command names -o");
                if output.ends_with(".wav") {
                    let wav = hound::WavReader::open(dir.join(output)).unwrap();
                    let seconds = wav.duration() as f64 / f64::from(wav.spec().sample_rate);
                    assert!(seconds > 30.0, "{line}: only {seconds} s of audio");
                } else {
                    let env = read_csv(&dir.join(output));
                    env.validate().unwrap();
                    assert!(env.frame_count() > 1000, "{line}: only {} frames", env.frame_count());
                }
            }
            _ => panic!("docs/TOOLS.md recipe line the test cannot run: {line}"),
        }
    }
    let rich = read_csv(&dir.join("runs/violin/violin_44k.csv"));
    assert_eq!(rich.sample_rate_hz, 44100.0);
}
