//! `ddsp combine`: chunks into one file (the original `single_batch_export.py`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ddsp_trainer::tools::combine::{combine, Chunk};
use ddsp_trainer::tools::io::{
    describe, format_of, items_bar, read_envelope, refuse_to_overwrite_inputs, write_envelope, Format,
};
use ddsp_trainer::tools::natural_sort::sort_paths_naturally;

/// Join chunks (.npz archives or unified CSVs) into one file with continuous frame indices.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Chunks are joined in natural order of their file names (chunk_2 before chunk_10), whatever
order they are given in. A folder stands for the .npz archives in it (or, if it holds none,
its .csv files). Chunks whose frame_rate or sample_rate differ are refused, naming them.

Examples:
  ddsp combine runs/violin/chunk_*.npz -o violin.csv
  ddsp combine runs/violin -o violin.csv")]
pub struct Args {
    /// Chunk files (.npz or .csv) or folders of them.
    #[arg(required = true, value_name = "CHUNK")]
    pub chunks: Vec<PathBuf>,
    /// Where to write the result (.csv, or .npz for an archive).
    #[arg(short, long, value_name = "OUT.csv")]
    pub output: PathBuf,
}

/// The chunk files a folder stands for: its .npz files, else its .csv files, never the output.
fn files_in(folder: &Path, output: &Path) -> Result<Vec<PathBuf>> {
    let mut npz = Vec::new();
    let mut csv = Vec::new();
    let output = output.canonicalize().ok();
    for entry in std::fs::read_dir(folder).with_context(|| format!("cannot list the folder {}", folder.display()))? {
        let path = entry.with_context(|| format!("cannot list the folder {}", folder.display()))?.path();
        if !path.is_file() || path.canonicalize().ok() == output {
            continue;
        }
        match (format_of(&path), path.extension().and_then(|e| e.to_str())) {
            (Format::Npz, _) => npz.push(path),
            (Format::Csv, Some(e)) if e.eq_ignore_ascii_case("csv") => csv.push(path),
            _ => {}
        }
    }
    let files = if npz.is_empty() { csv } else { npz };
    if files.is_empty() {
        bail!("the folder {} holds no .npz or .csv chunks", folder.display());
    }
    Ok(files)
}

pub fn run(args: Args) -> Result<()> {
    let mut paths = Vec::new();
    for p in &args.chunks {
        if p.is_dir() {
            paths.extend(files_in(p, &args.output)?);
        } else {
            paths.push(p.clone());
        }
    }
    refuse_to_overwrite_inputs(&paths, &args.output)?;
    sort_paths_naturally(&mut paths);
    let bar = items_bar(paths.len(), 4, "reading chunks");
    let mut chunks = Vec::with_capacity(paths.len());
    for path in &paths {
        chunks.push(Chunk { name: path.display().to_string(), envelope: read_envelope(path)? });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let out = combine(&chunks)?;
    write_envelope(&out, &args.output)?;
    println!("wrote {} from {} chunks: {}", args.output.display(), chunks.len(), describe(&out));
    Ok(())
}
