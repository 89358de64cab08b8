//! `cargo xtask bundle ddsp-plugin --release`: nice-plug's bundler (CLAP + VST3 in
//! `target/bundled/`). `cargo xtask test`: the workspace tests on a fresh machine, with the
//! virtual display the plugin's GUI test needs (see `test.rs`).

mod test;

fn main() -> nice_plug_xtask::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("test") {
        return test::run(&args[1..]);
    }
    nice_plug_xtask::main_with_args("cargo xtask", args)
}
