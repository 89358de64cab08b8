//! DDSP Spectral Player. (Filled in by the plugin work.)
