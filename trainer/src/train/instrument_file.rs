//! Writing a run's portable instrument (`RUN/instrument.ddsp`, SPEC §9): the trained decoder's
//! weights, the model's rates and the statistics of the voiced training frames, in the format
//! `ddsp_shared::instrument::file` defines (read by the plugin and `ddsp play`, no burn needed).

use std::path::PathBuf;

use anyhow::Context;
use ddsp_shared::instrument::{InstrumentFile, TrainingStats};

use super::data::Source;
use super::inference::Instrument;
use super::training::RunPaths;

/// The instrument file of a loaded model and the recordings it was trained on.
pub fn instrument_file(instrument: &Instrument, sources: &[Source], name: &str) -> anyhow::Result<InstrumentFile> {
    let config = &instrument.config;
    let concat =
        |pick: fn(&Source) -> &Vec<f32>| sources.iter().flat_map(|s| pick(s).iter().copied()).collect::<Vec<_>>();
    let stats = TrainingStats::from_frames(
        &concat(|s| &s.f0_hz),
        &concat(|s| &s.confidence),
        &concat(|s| &s.loudness_db),
        config.silence_db as f32,
    )
    .context("the training recordings have no voiced frames, so there is no pitch or loudness range to play in")?;
    Ok(InstrumentFile {
        name: name.to_string(),
        sample_rate_hz: config.sample_rate_hz,
        frame_rate_hz: config.frame_rate_hz,
        weights: instrument.model.decoder_weights(),
        stats,
    })
}

/// Writes `instrument.ddsp` into the run folder (atomically) and returns its path.
pub fn write_instrument_file(paths: &RunPaths, instrument: &Instrument, sources: &[Source]) -> anyhow::Result<PathBuf> {
    let name = paths.root.file_name().map_or_else(|| "instrument".to_string(), |n| n.to_string_lossy().into_owned());
    let file = instrument_file(instrument, sources, &name)?;
    let path = paths.instrument();
    file.write_path(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::{Preset, TrainConfig};
    use crate::train::data::analyse_source;
    use crate::train::model::DdspModel;
    use burn::tensor::Device;
    use ddsp_shared::instrument::{DecodedFrame, Decoder};

    /// The real-time decoder is the trained network: the same weights and 1000 frames of the
    /// violin recording's f0 and loudness through burn's forward and through the decoder.
    #[test]
    fn decoder_matches_burn() {
        let device = Device::flex();
        device.seed(11);
        let config = TrainConfig::preset(Preset::Quick);
        let model = DdspModel::new(&config, &device);
        let violin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/violin_phrase_44k.wav");
        let source = analyse_source(&violin, &config).unwrap();
        let frames = 1000.min(source.frames());
        assert_eq!(frames, 1000, "the violin phrase gives 20 s at 50 frames/s");
        let instrument = Instrument { config: config.clone(), model, device };
        let burn = instrument.envelope(&source.f0_hz[..frames], &source.loudness_db[..frames]);

        let file = instrument_file(&instrument, std::slice::from_ref(&source), "violin").unwrap();
        let mut decoder = Decoder::new();
        let mut frame = DecodedFrame::default();
        let (mut worst_amp, mut worst_mag) = (0.0f32, 0.0f32);
        for i in 0..frames {
            let sr = file.sample_rate_hz as f32;
            decoder.decode(&file.weights, sr, source.f0_hz[i], source.loudness_db[i], &mut frame);
            for (a, b) in frame.harmonic_amps.iter().zip(burn.harmonic_amps(i)) {
                // Relative to the frame's loudest harmonic: partials 100 dB down carry the
                // absolute rounding of the normalisation's sum.
                let scale = burn.harmonic_amps(i).iter().cloned().fold(1e-30f32, f32::max);
                worst_amp = worst_amp.max((a - b).abs() / scale);
            }
            for (a, b) in frame.noise_mags.iter().zip(burn.band_mags(i)) {
                worst_mag = worst_mag.max((a - b).abs() / b.abs().max(1e-7));
            }
        }
        assert!(worst_amp < 1e-4, "harmonic amplitudes differ by {worst_amp:e} of the frame's largest");
        assert!(worst_mag < 1e-4, "noise magnitudes differ by {worst_mag:e} relative");
        eprintln!("decoder vs burn over {frames} frames: amplitudes {worst_amp:e}, magnitudes {worst_mag:e}");
    }
}
