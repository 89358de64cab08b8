//! `Renderer::process` (and everything else the audio thread calls after `prepare`) makes no
//! heap allocation: a counting global allocator watches this thread while it runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ddsp_shared::render::{AnchorMode, BounceParams, RenderParams, Renderer};
use ddsp_shared::Envelope;

/// Counts allocations made on a thread while its `COUNTING` flag is set.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn envelope(frames: usize, harmonics: usize, bands: usize, f0_hz: f32) -> Envelope {
    let mut e = Envelope::silent(250.0, 16_000.0, frames, harmonics, bands, f0_hz);
    e.harmonic_amps.fill(0.01);
    e.band_mags.fill(0.01);
    e
}

#[test]
fn process_and_the_voice_controls_never_allocate() {
    let long = envelope(500, 60, 65, 220.0);
    // More harmonics and bands than the renderer plays, and a shorter envelope to swap in.
    let wide = envelope(40, 600, 300, 110.0);
    let malformed = Envelope { harmonic_amps: Vec::new(), ..envelope(10, 4, 4, 100.0) };
    let mut r = Renderer::new();
    r.prepare(48_000.0, 4096);
    let mut out = vec![0.0f32; 4096];
    let mut freqs = [0.0f32; 64];
    let mut amps = [0.0f32; 64];
    let params = RenderParams {
        pitch_steps: 5.0,
        stretch: 1.7,
        anchor: AnchorMode::CentrePartial,
        looping: true,
        update_rate_hz: 30.0,
        bounce: BounceParams { enabled: true, jitter: 0.5, duration_s: 0.3, ..BounceParams::default() },
        ..RenderParams::default()
    };

    COUNTING.with(|c| c.set(true));
    for (i, block) in [1usize, 7, 64, 333, 4096, 128].iter().cycle().take(120).enumerate() {
        let e = match i % 7 {
            3 => &wide,
            5 => &malformed,
            _ => &long,
        };
        let p = RenderParams {
            playback_rate: if i % 11 == 0 { -1.0 } else { 1.0 },
            anchor: if i % 2 == 0 { AnchorMode::ManualHz } else { AnchorMode::FixedF0 },
            start_frame: i % 50,
            ..params
        };
        r.set_transpose_ratio(1.0 + i as f32 * 0.01);
        if i % 13 == 0 {
            r.trigger_bounce();
        }
        if i % 17 == 0 {
            r.restart();
        }
        r.process(e, &p, &mut out[..*block]);
        r.current_partials(&mut freqs, &mut amps);
        r.current_noise_bands(&mut freqs, &mut amps);
        let _ = (r.playhead_frame(), r.is_finished());
    }
    COUNTING.with(|c| c.set(false));

    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "the audio path allocated");
    // The counter works: an allocation on this thread is seen.
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert!(ALLOCATIONS.load(Ordering::SeqCst) >= 1);
}
