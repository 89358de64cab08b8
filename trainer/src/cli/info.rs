//! `ddsp info <in.csv>`: what a unified CSV holds, at a glance or as JSON.
//!
//! Reading the whole file is also the quickest way to check it: a malformed file gets the
//! reader's error (file, line, column, problem) and exit status 1.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use ddsp_shared::unified_csv;
use ddsp_shared::Envelope;
use serde::Serialize;

/// Show the frames, timing, rates, f0 range and component counts of a unified CSV.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  ddsp info examples/violin_phrase_44k.csv
  ddsp info runs/violin/export/violin_phrase_44k/violin_phrase_44k_unified.csv --json")]
pub struct Args {
    /// The unified CSV to describe.
    pub input: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let env = unified_csv::read_path(&args.input)?;
    let summary = Summary::of(&env, &args.input);
    let text = if args.json {
        serde_json::to_string_pretty(&summary).context("cannot format the summary as JSON")? + "\n"
    } else {
        summary.to_text()
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // `ddsp info x.csv | head` closing the pipe early is not an error.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to standard output"),
    }
}

/// What `ddsp info` reports (also the shape of its `--json` output).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub file: String,
    pub frames: usize,
    pub first_frame_index: u64,
    pub last_frame_index: u64,
    /// The step between frame indices when it is the same throughout (1 for a full-resolution
    /// file, N for one downsampled by N), `null` when it varies.
    pub frame_index_step: Option<u64>,
    /// From time 0 to one frame period after the last frame.
    pub duration_s: f64,
    pub frame_rate_hz: f64,
    pub sample_rate_hz: f64,
    /// Frames with f0 > 0 (the f0 statistics are over these only).
    pub voiced_frames: usize,
    pub f0_min_hz: Option<f32>,
    pub f0_max_hz: Option<f32>,
    pub f0_median_hz: Option<f32>,
    pub harmonic_count: usize,
    pub noise_band_count: usize,
    /// Metadata keys other than `frame_rate` and `sample_rate`, in file order.
    pub extra_metadata: Vec<MetadataEntry>,
}

/// One `key=value` of the metadata line.
#[derive(Debug, Serialize)]
pub struct MetadataEntry {
    pub key: String,
    pub value: String,
}

impl Summary {
    pub fn of(env: &Envelope, path: &std::path::Path) -> Self {
        let mut voiced: Vec<f32> = (0..env.frame_count()).filter(|&i| env.is_voiced(i)).map(|i| env.f0_hz[i]).collect();
        voiced.sort_by(f32::total_cmp);
        let median = match voiced.len() {
            0 => None,
            n if n % 2 == 1 => Some(voiced[n / 2]),
            n => Some((voiced[n / 2 - 1] + voiced[n / 2]) / 2.0),
        };
        let steps: Vec<u64> = env.frame_indices.windows(2).map(|w| w[1] - w[0]).collect();
        let frame_index_step = match steps.first() {
            None => None,
            Some(&first) => steps.iter().all(|&s| s == first).then_some(first),
        };
        Self {
            file: path.display().to_string(),
            frames: env.frame_count(),
            first_frame_index: env.frame_indices.first().copied().unwrap_or(0),
            last_frame_index: env.frame_indices.last().copied().unwrap_or(0),
            frame_index_step,
            duration_s: env.duration_s(),
            frame_rate_hz: env.frame_rate_hz,
            sample_rate_hz: env.sample_rate_hz,
            voiced_frames: voiced.len(),
            f0_min_hz: voiced.first().copied(),
            f0_max_hz: voiced.last().copied(),
            f0_median_hz: median,
            harmonic_count: env.harmonic_count,
            noise_band_count: env.noise_band_count,
            extra_metadata: env
                .extra_metadata
                .iter()
                .map(|(key, value)| MetadataEntry { key: key.clone(), value: value.clone() })
                .collect(),
        }
    }

    /// The human-readable report, one `name: value` per line.
    pub fn to_text(&self) -> String {
        let indices = match self.frame_index_step {
            Some(1) => format!("indices {} to {}", self.first_frame_index, self.last_frame_index),
            Some(step) => format!("indices {} to {}, every {step}", self.first_frame_index, self.last_frame_index),
            None if self.frames == 1 => format!("index {}", self.first_frame_index),
            None => format!("indices {} to {}, irregular steps", self.first_frame_index, self.last_frame_index),
        };
        let f0 = match (self.f0_min_hz, self.f0_max_hz, self.f0_median_hz) {
            (Some(min), Some(max), Some(median)) => format!(
                "{min:.2} to {max:.2} Hz, median {median:.2} Hz ({} of {} frames voiced)",
                self.voiced_frames, self.frames
            ),
            _ => format!("no voiced frames (none of the {} frames has an f0 with a sounding harmonic)", self.frames),
        };
        let mut text = format!(
            "file:         {}\n\
             frames:       {} ({indices})\n\
             duration:     {:.3} s\n\
             frame rate:   {} Hz\n\
             sample rate:  {} Hz\n\
             f0:           {f0}\n\
             harmonics:    {}\n\
             noise bands:  {}\n",
            self.file,
            self.frames,
            self.duration_s,
            self.frame_rate_hz,
            self.sample_rate_hz,
            self.harmonic_count,
            self.noise_band_count,
        );
        for entry in &self.extra_metadata {
            text.push_str(&format!("metadata:     {}={}\n", entry.key, entry.value));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Frames with the given indices and f0, each with a sounding first harmonic.
    fn envelope(indices: &[u64], f0: &[f32]) -> Envelope {
        let mut env = Envelope::silent(250.0, 16000.0, indices.len(), 3, 2, 100.0);
        env.frame_indices = indices.to_vec();
        env.f0_hz = f0.to_vec();
        env.harmonic_amps.chunks_mut(3).for_each(|frame| frame[0] = 0.1);
        env
    }

    #[test]
    fn f0_statistics_skip_unvoiced_frames() {
        let mut env = envelope(&[0, 1, 2, 3, 4, 5], &[0.0, 300.0, 100.0, 0.0, 200.0, 50.0]);
        // The last frame has an f0 (a tracker's floor in silence) but no sounding harmonic.
        env.harmonic_amps[15..18].fill(0.0);
        let s = Summary::of(&env, Path::new("x.csv"));
        assert_eq!((s.f0_min_hz, s.f0_max_hz, s.f0_median_hz), (Some(100.0), Some(300.0), Some(200.0)));
        assert_eq!(s.voiced_frames, 3);
        let even = Summary::of(&envelope(&[0, 1], &[100.0, 200.0]), Path::new("x.csv"));
        assert_eq!(even.f0_median_hz, Some(150.0));
    }

    #[test]
    fn reports_steps_duration_and_silence() {
        let s = Summary::of(&envelope(&[0, 4, 8], &[0.0; 3]), Path::new("x.csv"));
        assert_eq!(s.frame_index_step, Some(4));
        approx::assert_relative_eq!(s.duration_s, 9.0 / 250.0);
        let text = s.to_text();
        assert!(text.contains("frames:       3 (indices 0 to 8, every 4)"), "{text}");
        assert!(text.contains("f0:           no voiced frames"), "{text}");
        let irregular = Summary::of(&envelope(&[0, 1, 5], &[1.0; 3]), Path::new("x.csv"));
        assert_eq!(irregular.frame_index_step, None);
    }
}
