//! `cargo xtask test [cargo test options]`: makes sure the system packages the tests need are
//! there, then runs `cargo test --workspace` with the options given.
//!
//! The plugin's GUI test opens its editor on a virtual X display, which needs `Xvfb` and Mesa's
//! software OpenGL. Where they are missing and this runs as root on Debian or Ubuntu, they are
//! installed with `apt-get` (as CI does); otherwise the command says what to install and stops
//! before building, instead of failing twenty minutes later in one test.

use std::path::Path;
use std::process::Command;

use nice_plug_xtask::Result;

/// Debian packages of the GUI test: the X server, and Mesa's DRI drivers and GLX library (the
/// editor draws with OpenGL, in software on a machine without a GPU).
const GUI_TEST_PACKAGES: [&str; 3] = ["xvfb", "libgl1-mesa-dri", "libglx-mesa0"];

/// Runs the workspace tests (see the module documentation).
pub fn run(cargo_test_args: &[String]) -> Result<()> {
    ensure_gui_test_packages()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo).args(["test", "--workspace"]).args(cargo_test_args).status()?;
    if !status.success() {
        anyhow::bail!("cargo test --workspace failed ({status})");
    }
    Ok(())
}

fn ensure_gui_test_packages() -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let missing: Vec<&str> = GUI_TEST_PACKAGES.into_iter().filter(|p| !is_present(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let can_install = has_command("apt-get") && is_root();
    if !can_install {
        anyhow::bail!(
            "the plugin's GUI test needs {} (a virtual display and software OpenGL); install them \
             (Debian/Ubuntu: sudo apt-get install {}) and run `cargo xtask test` again",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("xtask test: installing {} for the plugin's GUI test", missing.join(" "));
    let apt = |args: &[&str]| -> Result<()> {
        let status = Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").status()?;
        if !status.success() {
            anyhow::bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}

/// Whether the Debian package `package` is installed (on a system without dpkg, whether the
/// file it provides that the test uses is there).
fn is_present(package: &str) -> bool {
    if has_command("dpkg") {
        return Command::new("dpkg").args(["-s", package]).output().is_ok_and(|o| o.status.success());
    }
    match package {
        "xvfb" => has_command("Xvfb"),
        _ => true,
    }
}

fn has_command(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(name).is_file()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
