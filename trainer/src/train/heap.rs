//! Training's large buffers stay in the heap from one step to the next.
//!
//! Every training step allocates and frees the same large buffers: the `quick` preset's
//! harmonic sine table alone is 61 MB, and the model's activations, gradients and spectra add
//! many more. glibc's malloc serves any block above its mmap threshold (32 MiB at most) with a
//! fresh `mmap` and unmaps it on free, so the kernel faults in and zeroes every page again at
//! every step. That made a `quick` step 0.29 s where the same work with the heap reused takes
//! 0.18 s, and a `full` step 8.1 s where it takes 7.0 s (criterion bench `train_step`, 2 cores). Allocating from the heap alone (no `mmap`)
//! and never trimming it keeps those pages: the training process holds its peak memory until
//! it exits, which is what a training run needs anyway.

/// Tells glibc's malloc to keep freed memory for reuse (once per process; nothing on other
/// platforms, whose allocators differ).
pub fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: `mallopt` only sets allocator parameters, and these values are valid for
            // them; it is safe to call while other threads allocate.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
            }
        });
    }
}
