//! The options that thin an envelope (`--frame-step`, `--max-harmonics`, `--max-noise-bands`),
//! shared by `ddsp csv` and `ddsp downsample` so both spell and check them the same way.

use ddsp_trainer::tools::downsample::DownsampleOptions;

/// Which frames, harmonics and noise bands to keep.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ThinningArgs {
    /// Keep every N-th frame (kept frames keep their frame_index, so their times stay true).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub frame_step: u64,
    /// Keep only the lowest N harmonics.
    #[arg(long, value_name = "N")]
    pub max_harmonics: Option<usize>,
    /// Keep only the lowest N noise bands.
    #[arg(long, value_name = "N")]
    pub max_noise_bands: Option<usize>,
}

impl ThinningArgs {
    /// True when every option keeps everything.
    pub fn keeps_everything(&self) -> bool {
        self.frame_step == 1 && self.max_harmonics.is_none() && self.max_noise_bands.is_none()
    }

    /// The same choice as options for `tools::downsample`.
    pub fn to_options(self) -> DownsampleOptions {
        DownsampleOptions {
            frame_step: self.frame_step as usize,
            max_harmonics: self.max_harmonics,
            max_noise_bands: self.max_noise_bands,
        }
    }
}
