//! `ddsp csv`: `.npz` envelope archives (SPEC §3) to one unified CSV (SPEC §2), like the
//! original `3-envelopes2csv.py`.

use std::path::PathBuf;

use anyhow::Result;
use ddsp_trainer::envelope_archive::EnvelopeArchive;
use ddsp_trainer::tools::combine::{combine, Chunk};
use ddsp_trainer::tools::downsample::downsample;

use super::thinning::ThinningArgs;
use ddsp_trainer::tools::io::{describe, format_of, items_bar, refuse_to_overwrite_inputs, write_envelope, Format};
use ddsp_trainer::tools::natural_sort::sort_paths_naturally;

/// Export envelope archives (.npz) to one unified CSV.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
By default one CSV row group is written per control frame (frame_rate frames per second);
the sample-resolution envelopes of the archives are averaged over each frame's period.
--full-resolution writes one frame per audio sample as the original exporter could (large).
Several chunks are joined in natural order of their names (chunk_2 before chunk_10) with
continuous frame indices.

Examples:
  ddsp csv runs/violin/chunk_00.npz -o violin_00.csv
  ddsp csv runs/violin/*.npz -o violin.csv --frame-step 2 --max-harmonics 30 --max-noise-bands 32")]
pub struct Args {
    /// Envelope archives, one per chunk.
    #[arg(required = true, value_name = "CHUNK.npz")]
    pub chunks: Vec<PathBuf>,
    /// The unified CSV to write.
    #[arg(short, long, value_name = "OUT.csv")]
    pub output: PathBuf,
    #[command(flatten)]
    pub thinning: ThinningArgs,
    /// One frame per audio sample (frame_rate = sample_rate), as the original could write.
    #[arg(long)]
    pub full_resolution: bool,
}

pub fn run(args: Args) -> Result<()> {
    if format_of(&args.output) == Format::Npz {
        anyhow::bail!(
            "ddsp csv writes a unified CSV; {} ends in .npz (use ddsp combine to join archives)",
            args.output.display()
        );
    }
    refuse_to_overwrite_inputs(&args.chunks, &args.output)?;
    let mut paths = args.chunks.clone();
    sort_paths_naturally(&mut paths);
    let options = args.thinning.to_options();
    let bar = items_bar(paths.len(), 4, "reading chunks");
    let mut chunks = Vec::with_capacity(paths.len());
    for path in &paths {
        if format_of(path) != Format::Npz {
            anyhow::bail!("{} is not an .npz envelope archive (ddsp csv exports archives; ddsp downsample and ddsp combine take CSVs)", path.display());
        }
        let archive = EnvelopeArchive::read(path)?;
        let envelope = if args.full_resolution { archive.to_envelope_full_resolution() } else { archive.to_envelope() };
        chunks.push(Chunk { name: path.display().to_string(), envelope: downsample(&envelope, &options) });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let envelope = if chunks.len() == 1 { chunks.remove(0).envelope } else { combine(&chunks)? };
    write_envelope(&envelope, &args.output)?;
    println!("wrote {}: {}", args.output.display(), describe(&envelope));
    Ok(())
}
