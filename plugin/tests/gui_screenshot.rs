//! The GUI opens inside a host window through the CLAP gui extension (X11, under Xvfb) and
//! draws: the window is captured to a PNG, and the test fails if it stays blank. At its
//! default size every panel shows (no scroll bar); resized by the host below what the panels
//! need, the controls scroll; the project keeps the size, and a fresh instance loading it opens
//! at that size.
//!
//! Needs `Xvfb` (Debian package `xvfb`) and Mesa's OpenGL (`libgl1-mesa-dri`, `libglx-mesa0`).
//! The screenshot lands in `target/<profile>/gui-screenshot.png`, and also at the path in
//! `DDSP_SCREENSHOT_OUT` when that is set (how `docs/screenshot.png` is made).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap_sys::ext::gui::{clap_window, clap_window_handle, CLAP_WINDOW_API_X11};
use ddsp_tests::clap_host::*;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, ImageFormat, WindowClass};

/// A private X server for the test. It runs with `-terminate`, so it exits by itself once the
/// last client disconnects, which is when this test process exits. It is never killed from
/// the test: the editor's window thread may still hold its own X connection for a moment after
/// `gui.destroy`, and an X server vanishing under it makes Xlib's I/O error handler exit the
/// process from that thread, which crashed the test binary at exit (seen under load).
struct Xvfb {
    display: String,
    /// Dropped without waiting: the server outlives this process's last connection by design.
    _child: Child,
    /// Held for the whole test so the server does not reset (and terminate) between the start
    /// probe and the test's own connections.
    _keepalive: x11rb::rust_connection::RustConnection,
}

impl Xvfb {
    /// Starts Xvfb on a free display number. Other X servers may run on this machine (other
    /// test runs), so the number is taken from a high, per-process range, and a server that
    /// exits at once (display in use) is retried on the next number.
    fn start() -> Self {
        let first = 200 + std::process::id() % 500;
        for number in first..first + 20 {
            let display = format!(":{number}");
            if std::path::Path::new(&format!("/tmp/.X{number}-lock")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .args([display.as_str(), "-screen", "0", "1280x960x24", "-nolisten", "tcp", "-terminate"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start Xvfb ({e}); install it (Debian: apt-get install xvfb)"));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // display taken; try the next one
                }
                if let Ok((keepalive, _)) = x11rb::connect(Some(&display)) {
                    std::thread::sleep(Duration::from_millis(100));
                    if child.try_wait().unwrap().is_none() {
                        return Self { display, _child: child, _keepalive: keepalive };
                    }
                    break;
                }
                assert!(Instant::now() < deadline, "Xvfb on {display} did not come up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free X display number for Xvfb");
    }
}

/// The host window's pixels, RGB (32 bits per pixel, BGRX, on a little-endian TrueColor
/// visual).
fn capture(conn: &impl Connection, window: u32, width: u32, height: u32) -> Vec<u8> {
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, width as u16, height as u16, !0)
        .unwrap()
        .reply()
        .expect("capture the host window");
    let pixels = (width * height) as usize;
    assert!(image.data.len() >= pixels * 4, "unexpected image format ({} bytes)", image.data.len());
    image.data.chunks_exact(4).take(pixels).flat_map(|p| [p[2], p[1], p[0]]).collect()
}

/// Pixels of egui's scroll bar: light grey, in the rightmost 12 columns of the lower 55 % of
/// the window (where the control panels are; the dark theme draws nothing else that light
/// there). A window that shows every panel has none.
fn scroll_bar_pixels(rgb: &[u8], width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    (h * 45 / 100..h)
        .flat_map(|y| (w - 12..w).map(move |x| (y * w + x) * 3))
        .filter(|&i| {
            let p = &rgb[i..i + 3];
            let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
            *lo >= 90 && hi - lo < 25
        })
        .count()
}

fn write_png(path: &std::path::Path, rgb: &[u8], width: u32, height: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().unwrap().write_image_data(rgb).unwrap();
}

#[test]
fn the_gui_opens_in_a_host_window_and_draws_the_player() {
    let xvfb = Xvfb::start();
    // baseview opens its own X connection from DISPLAY.
    std::env::set_var("DISPLAY", &xvfb.display);
    let (conn, screen_num) = x11rb::connect(Some(&xvfb.display)).expect("connect to Xvfb");
    let screen = &conn.setup().roots[screen_num];

    let mut instance = Instance::new();
    let gui = *instance.gui();
    let plugin = instance.raw();
    let (mut width, mut height) = (0u32, 0u32);
    unsafe {
        assert!((gui.is_api_supported.unwrap())(plugin, CLAP_WINDOW_API_X11.as_ptr(), false));
        assert!((gui.create.unwrap())(plugin, CLAP_WINDOW_API_X11.as_ptr(), false), "gui.create");
        (gui.set_scale.unwrap())(plugin, 1.0);
        assert!((gui.get_size.unwrap())(plugin, &mut width, &mut height));
        assert!((gui.can_resize.unwrap())(plugin), "the editor is resizable");
    }
    let default = ddsp_plugin::window_size::DEFAULT_SIZE;
    assert_eq!((width, height), (default.0 as u32, default.1 as u32), "a new window opens at the default size");

    // The host's window that the editor embeds into.
    let parent = conn.generate_id().unwrap();
    conn.create_window(
        screen.root_depth,
        parent,
        screen.root,
        0,
        0,
        width as u16,
        height as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new().background_pixel(screen.black_pixel),
    )
    .unwrap();
    conn.map_window(parent).unwrap();
    // A round trip, so the server has made the window before the plugin's own X connection
    // is told about it.
    conn.get_input_focus().unwrap().reply().unwrap();
    let window = clap_window { api: CLAP_WINDOW_API_X11.as_ptr(), specific: clap_window_handle { x11: parent as _ } };
    unsafe {
        assert!((gui.set_parent.unwrap())(plugin, &window), "gui.set_parent");
        assert!((gui.show.unwrap())(plugin), "gui.show");
    }

    // Play a note so the spectral view has something to show, and let the GUI draw: capture
    // until the editor has painted most of the window (software OpenGL on a busy machine can
    // take a few seconds), or give up after 60 s.
    instance.activate();
    instance.process(512, &[note_on(0, 60, 1.0)]);
    let pixels = (width * height) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    let settle_until = Instant::now() + Duration::from_secs(3);
    let (rgb, colours, black) = loop {
        instance.process(512, &[]);
        std::thread::sleep(Duration::from_millis(10));
        if Instant::now() < settle_until {
            continue;
        }
        let rgb = capture(&conn, parent, width, height);
        let colours: HashSet<[u8; 3]> = rgb.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        let black = rgb.chunks_exact(3).filter(|c| c.iter().all(|&v| v == 0)).count();
        if (colours.len() > 50 && black < pixels / 2) || Instant::now() > deadline {
            break (rgb, colours, black);
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    let profile_dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let mut targets = vec![profile_dir.join("gui-screenshot.png")];
    if let Some(out) = std::env::var_os("DDSP_SCREENSHOT_OUT") {
        targets.push(out.into());
    }
    for target in &targets {
        write_png(target, &rgb, width, height);
    }
    assert!(
        colours.len() > 50,
        "the window looks blank: {} distinct colours (screenshot: {})",
        colours.len(),
        targets[0].display()
    );
    assert!(
        black < pixels / 2,
        "over half the window is the host's black background: the editor did not draw ({})",
        targets[0].display()
    );
    let bar = scroll_bar_pixels(&rgb, width, height);
    assert!(bar < 20, "at the default size the controls scroll ({bar} scroll-bar pixels): a panel is cut off");

    // The host resizes the window smaller than the panels need: they scroll, and the project
    // keeps the new size.
    let (small_w, small_h) = (900u32, 560u32);
    conn.configure_window(parent, &x11rb::protocol::xproto::ConfigureWindowAux::new().width(small_w).height(small_h))
        .unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    unsafe {
        let (mut w, mut h) = (small_w, small_h);
        assert!((gui.adjust_size.unwrap())(plugin, &mut w, &mut h), "gui.adjust_size");
        assert_eq!((w, h), (small_w, small_h), "the size is above the minimum, so it is kept");
        assert!((gui.set_size.unwrap())(plugin, small_w, small_h), "gui.set_size");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let small = loop {
        instance.process(512, &[]);
        std::thread::sleep(Duration::from_millis(200));
        let small = capture(&conn, parent, small_w, small_h);
        if scroll_bar_pixels(&small, small_w, small_h) >= 20 || Instant::now() > deadline {
            break small;
        }
    };
    write_png(&profile_dir.join("gui-screenshot-small.png"), &small, small_w, small_h);
    let bar = scroll_bar_pixels(&small, small_w, small_h);
    assert!(bar >= 20, "a window too small for the panels shows a scroll bar ({bar} pixels; gui-screenshot-small.png)");
    let saved = instance.save_state();
    unsafe { (gui.destroy.unwrap())(plugin) };

    let stored: serde_json::Value =
        serde_json::from_str(state_json(&saved)["fields"]["window"].as_str().expect("the state has a window field"))
            .unwrap();
    assert_eq!((stored["width"].as_f64(), stored["height"].as_f64()), (Some(900.0), Some(560.0)), "{stored}");

    // A fresh instance loading the project opens its window at the saved size.
    let restored = Instance::new();
    restored.load_state(&saved);
    let gui = *restored.gui();
    let (mut w, mut h) = (0u32, 0u32);
    unsafe {
        assert!((gui.create.unwrap())(restored.raw(), CLAP_WINDOW_API_X11.as_ptr(), false), "gui.create");
        (gui.set_scale.unwrap())(restored.raw(), 1.0);
        assert!((gui.get_size.unwrap())(restored.raw(), &mut w, &mut h));
        (gui.destroy.unwrap())(restored.raw());
    }
    assert_eq!((w, h), (small_w, small_h), "the restored project's window size");
}
