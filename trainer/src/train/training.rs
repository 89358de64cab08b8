//! The training loop: Adam with exponential learning-rate decay and global-norm gradient
//! clipping, a progress bar, the loss log and plot, atomic checkpoints, Ctrl-C and `--resume`.
//!
//! Run folder (see [`RunPaths`]):
//! - `config.json` + `model.bpk`: the model (the record rebuilds with the config),
//! - `checkpoint.bin`: model, optimiser state and step in one file written atomically, so an
//!   interruption at any moment leaves either the previous or the new checkpoint, never a mix,
//! - `loss.csv`, `loss.png`: the loss log and its plot,
//! - `features.cache`: prepared training data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};

use super::config::{TrainConfig, HARMONIC_COUNT};
use super::data::{Batch, Dataset};
use super::loss::{fft_sizes, spectral_loss};
use super::model::{DdspModel, ModelInputs};
use super::synth::{synthesize, SynthInputs};
use crate::plots::loss::{write_loss_plot, LossPoint};

/// The files of a run folder.
#[derive(Clone, Debug)]
pub struct RunPaths {
    /// The folder.
    pub root: PathBuf,
}

impl RunPaths {
    /// Paths inside `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `model.bpk` (burnpack record of the model).
    pub fn model(&self) -> PathBuf {
        self.root.join("model.bpk")
    }
    /// `checkpoint.bin`.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint.bin")
    }
    /// `loss.csv`.
    pub fn loss_log(&self) -> PathBuf {
        self.root.join("loss.csv")
    }
    /// `loss.png`.
    pub fn loss_plot(&self) -> PathBuf {
        self.root.join("loss.png")
    }
    /// `features.cache`.
    pub fn feature_cache(&self) -> PathBuf {
        self.root.join("features.cache")
    }
    /// `instrument.ddsp`: the portable, playable instrument (SPEC §9).
    pub fn instrument(&self) -> PathBuf {
        self.root.join("instrument.ddsp")
    }
    /// `room_ir.wav`: the learned room's impulse response (runs trained with `--reverb`).
    pub fn room_ir(&self) -> PathBuf {
        self.root.join("room_ir.wav")
    }
    /// `inputs.json`: the input files of the run (for `ddsp export` without `--audio`).
    pub fn inputs(&self) -> PathBuf {
        self.root.join("inputs.json")
    }
}

/// One line of the loss log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossEntry {
    /// Step number (1-based: the loss of the step that brought the count to `step`).
    pub step: usize,
    /// Spectral loss of the batch.
    pub loss: f32,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Wall-clock seconds since the run's first start (excluding time while stopped).
    pub elapsed_s: f64,
}

/// What survives between runs besides the weights.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct TrainState {
    /// Steps done.
    step: usize,
    /// Training seconds so far.
    elapsed_s: f64,
}

/// How a call to [`train`] ended.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// Step count reached.
    pub step: usize,
    /// Steps done in this call.
    pub steps_this_run: usize,
    /// Seconds of this call's training loop.
    pub seconds_this_run: f64,
    /// Loss of the last step.
    pub last_loss: Option<f32>,
    /// Stopped by Ctrl-C (a checkpoint was written).
    pub interrupted: bool,
}

/// The model, the optimiser and the fixed parts of a step.
pub struct Trainer {
    /// The model on the autodiff device.
    pub model: DdspModel,
    optimizer: ModuleOptimizer,
    /// The training configuration.
    pub config: TrainConfig,
    fft_sizes: Vec<usize>,
    /// The autodiff device.
    pub device: Device,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer").field("config", &self.config).finish_non_exhaustive()
    }
}

fn optimizer() -> ModuleOptimizer {
    // Keras' Adam epsilon (DDSP trains with it).
    AdamConfig::new().with_epsilon(1e-7).init()
}

impl Trainer {
    /// A fresh model (weights from `config.seed`) on `device` (autodiff is added here).
    pub fn new(config: TrainConfig, device: &Device) -> Self {
        super::heap::keep_freed_memory_for_reuse();
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = DdspModel::new(&config, &device);
        Self { model, optimizer: optimizer(), fft_sizes: fft_sizes(config.sample_rate_hz), config, device }
    }

    /// One optimiser step on `batch` at learning rate `lr`; returns the batch's loss. A loss
    /// that is not finite is returned as an error before anything changes.
    pub fn step(&mut self, batch: &Batch, noise_seed: u64, lr: f64) -> anyhow::Result<f32> {
        let c = &self.config;
        let frames = c.example_frames();
        let inputs = ModelInputs::from_features(
            &batch.f0_hz,
            &batch.loudness_db,
            batch.size,
            frames,
            c.sample_rate_hz as f32,
            &self.device,
        );
        let synth_inputs = SynthInputs::new(
            &batch.f0_hz,
            batch.size,
            frames,
            c.hop_samples(),
            HARMONIC_COUNT,
            c.sample_rate_hz as f32,
            noise_seed,
            &self.device,
        );
        let target = Tensor::<1>::from_floats(batch.audio.as_slice(), &self.device)
            .reshape([batch.size, frames * c.hop_samples()]);

        let (controls, tape) = self.model.forward(&inputs, true);
        let audio = synthesize(controls.harmonic_amps, controls.noise_mags, &synth_inputs, self.model.reverb.as_ref());
        let loss = spectral_loss(audio, target, &self.fft_sizes);
        let loss_value: f32 = loss.clone().into_scalar();
        if !loss_value.is_finite() {
            bail!("the loss became {loss_value}");
        }
        let mut grads = loss.backward();
        let mut params = GradientsParams::from_module(&mut grads, &self.model);
        if let Some(tape) = tape {
            tape.backward_upstream(&grads, &self.model, &mut params);
        }
        clip_global_norm(&mut params, &self.model, c.grad_clip_norm);
        self.model = self.optimizer.step(lr, self.model.clone(), params);
        Ok(loss_value)
    }

    /// Serialises model, optimiser state and `state` into one buffer.
    fn checkpoint_bytes(&self, state: &TrainState) -> anyhow::Result<Vec<u8>> {
        let model = self.model.clone().into_record().into_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
        let optim = self.optimizer.into_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
        let state = serde_json::to_vec(state)?;
        let mut out = Vec::with_capacity(model.len() + optim.len() + state.len() + 32);
        out.extend_from_slice(CHECKPOINT_MAGIC);
        for part in [&state[..], &model[..], &optim[..]] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        Ok(out)
    }

    /// Restores model, optimiser and state from [`Trainer::checkpoint_bytes`]'s output.
    fn restore(&mut self, bytes: &[u8]) -> anyhow::Result<TrainState> {
        let rest = bytes.strip_prefix(CHECKPOINT_MAGIC).context("not a ddsp checkpoint")?;
        let mut parts = Vec::new();
        let mut at = 0;
        for _ in 0..3 {
            let len = u64::from_le_bytes(rest.get(at..at + 8).context("truncated checkpoint")?.try_into()?) as usize;
            parts.push(rest.get(at + 8..at + 8 + len).context("truncated checkpoint")?);
            at += 8 + len;
        }
        let state: TrainState = serde_json::from_slice(parts[0])?;
        let record =
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(parts[1].to_vec())).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.model = self.model.clone().try_load_record(record).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.optimizer =
            optimizer().from_bytes(Bytes::from_bytes_vec(parts[2].to_vec())).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(state)
    }
}

const CHECKPOINT_MAGIC: &[u8] = b"DDSPRS-CKPT-1\n";

/// The step a run's checkpoint holds, read without loading the model (for `--resume` to say
/// what it will do before it starts).
pub fn checkpoint_step(paths: &RunPaths) -> anyhow::Result<usize> {
    let path = paths.checkpoint();
    let mut head = vec![0u8; CHECKPOINT_MAGIC.len() + 8];
    let mut file = std::fs::File::open(&path).with_context(|| format!("--resume: cannot read {}", path.display()))?;
    std::io::Read::read_exact(&mut file, &mut head)
        .with_context(|| format!("--resume: {} is not a usable checkpoint", path.display()))?;
    let rest =
        head.strip_prefix(CHECKPOINT_MAGIC).with_context(|| format!("{} is not a ddsp checkpoint", path.display()))?;
    let len = u64::from_le_bytes(rest.try_into()?);
    if len > 1 << 16 {
        bail!("--resume: {} is not a usable checkpoint", path.display());
    }
    let mut state = vec![0u8; len as usize];
    std::io::Read::read_exact(&mut file, &mut state)
        .with_context(|| format!("--resume: {} is not a usable checkpoint", path.display()))?;
    let state: TrainState = serde_json::from_slice(&state)?;
    Ok(state.step)
}

/// Scales all gradients so that their global L2 norm is at most `max_norm` (DDSP/TensorFlow's
/// `clip_by_global_norm`; burn's own clipping is per parameter).
pub fn clip_global_norm<M: Module>(params: &mut GradientsParams, model: &M, max_norm: f64) {
    struct Norm<'a> {
        params: &'a GradientsParams,
        sum: Option<Tensor<1>>,
    }
    impl burn::module::ModuleVisitor for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.params.get::<D>(param.id) {
                let s = g.powi_scalar(2).sum();
                self.sum = Some(match self.sum.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
        }
    }
    struct Scale<'a> {
        params: &'a mut GradientsParams,
        factor: f32,
    }
    impl burn::module::ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.params.remove::<D>(param.id) {
                self.params.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut norm = Norm { params, sum: None };
    model.visit(&mut norm);
    let Some(sum) = norm.sum else { return };
    let global = (sum.into_scalar::<f32>() as f64).sqrt();
    if global > max_norm {
        model.visit(&mut Scale { params, factor: (max_norm / global) as f32 });
    }
}

/// Options of [`train`] that do not belong in the saved configuration.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Continue from the run folder's checkpoint.
    pub resume: bool,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// Set by the Ctrl-C handler: stop after the current step with a checkpoint.
    pub interrupt: Arc<AtomicBool>,
}

/// Trains (or continues training) the model of `paths` on `dataset` until `config.steps`.
pub fn train(
    config: &TrainConfig,
    dataset: &Dataset,
    paths: &RunPaths,
    device: &Device,
    options: &TrainOptions,
) -> anyhow::Result<TrainOutcome> {
    let mut trainer = Trainer::new(config.clone(), device);
    let mut state = TrainState { step: 0, elapsed_s: 0.0 };
    let mut log: Vec<LossEntry> = Vec::new();
    if options.resume {
        let bytes = std::fs::read(paths.checkpoint())
            .with_context(|| format!("--resume: cannot read the checkpoint {}", paths.checkpoint().display()))?;
        state = trainer
            .restore(&bytes)
            .with_context(|| format!("--resume: {} is not a usable checkpoint", paths.checkpoint().display()))?;
        log = read_loss_log(&paths.loss_log())?;
        log.retain(|e| e.step <= state.step);
    }
    config.save(paths.config()).with_context(|| format!("cannot write {}", paths.config().display()))?;

    let start_step = state.step;
    let bar = progress_bar(config.steps as u64, start_step as u64, options.progress);
    let run_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let mut last_loss = None;
    let mut interrupted = false;
    // The first step builds kernels and buffers; the estimate times the ones after it.
    let mut estimate_from: Option<Instant> = None;
    while state.step < config.steps {
        if options.interrupt.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let indices = dataset.batch_indices(config.seed, state.step, config.batch_size);
        let batch = dataset.batch(&indices);
        let lr = config.learning_rate_at(state.step);
        let noise_seed = config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ state.step as u64;
        let loss = match trainer.step(&batch, noise_seed, lr) {
            Ok(loss) => loss,
            Err(err) => {
                bar.abandon();
                write_logs(paths, &log)?;
                // Only suggest --resume where there is a checkpoint to resume from.
                let next = if paths.checkpoint().exists() {
                    format!(
                        "the last good checkpoint ({}) is kept: continue with `ddsp train ... --resume --learning-rate <smaller>`",
                        paths.checkpoint().display()
                    )
                } else {
                    format!(
                        "no checkpoint had been written yet: start again with a smaller --learning-rate (this one was {})",
                        config.learning_rate
                    )
                };
                bail!(
                    "training stopped at step {}: {err}. This usually means the learning rate is too high; {next}",
                    state.step + 1
                );
            }
        };
        state.step += 1;
        state.elapsed_s = elapsed_before + run_start.elapsed().as_secs_f64();
        last_loss = Some(loss);
        log.push(LossEntry { step: state.step, loss, learning_rate: lr, elapsed_s: state.elapsed_s });
        bar.set_position(state.step as u64);
        bar.set_message(format!("{loss:.3}"));
        let timed = state.step - start_step;
        if timed == 1 {
            estimate_from = Some(Instant::now());
        } else if timed == 1 + ESTIMATE_STEPS {
            if let Some(from) = estimate_from {
                let per_step = from.elapsed().as_secs_f64() / ESTIMATE_STEPS as f64;
                let left = (config.steps - state.step) as f64 * per_step;
                let line = format!(
                    "estimate: {per_step:.2} s per step, about {} for the {} steps left (timed over steps {}..{})",
                    duration_words(left),
                    config.steps - state.step,
                    start_step + 2,
                    state.step
                );
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        }
        if state.step.is_multiple_of(config.checkpoint_every) || state.step == config.steps {
            save_checkpoint(&trainer, &state, paths)?;
            write_logs(paths, &log)?;
            if bar.is_hidden() {
                let done = state.step - start_step;
                eprintln!(
                    "step {}/{}  loss {loss:.4}  {:.2} s/step",
                    state.step,
                    config.steps,
                    run_start.elapsed().as_secs_f64() / done.max(1) as f64
                );
            }
        }
    }
    if interrupted && state.step > start_step {
        save_checkpoint(&trainer, &state, paths)?;
        write_logs(paths, &log)?;
    }
    bar.finish_and_clear();
    Ok(TrainOutcome {
        step: state.step,
        steps_this_run: state.step - start_step,
        seconds_this_run: run_start.elapsed().as_secs_f64(),
        last_loss,
        interrupted,
    })
}

/// Steps timed (after the first) for the estimate printed near the start of training.
const ESTIMATE_STEPS: usize = 5;

/// `seconds` as a person says it: "40 s", "7 min", "2 h 10 min".
fn duration_words(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600 + 30) / 60),
    }
}

fn progress_bar(len: u64, pos: u64, visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] step {pos}/{len}  loss {msg}  {per_sec}  ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(pos);
    bar.reset_eta();
    bar
}

fn save_checkpoint(trainer: &Trainer, state: &TrainState, paths: &RunPaths) -> anyhow::Result<()> {
    let bytes = trainer.checkpoint_bytes(state)?;
    write_bytes_atomically(&paths.checkpoint(), &bytes)?;
    let model = trainer.model.clone().into_record().into_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_bytes_atomically(&paths.model(), &model)
}

fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    ddsp_shared::atomic_file::write_atomically(path, |w| -> std::io::Result<()> { w.write_all(bytes) })
        .with_context(|| format!("cannot write {}", path.display()))
}

fn write_logs(paths: &RunPaths, log: &[LossEntry]) -> anyhow::Result<()> {
    let path = paths.loss_log();
    ddsp_shared::atomic_file::write_atomically(&path, |w| -> std::io::Result<()> {
        writeln!(w, "step,loss,learning_rate,elapsed_s")?;
        for e in log {
            writeln!(w, "{},{},{},{:.3}", e.step, e.loss, e.learning_rate, e.elapsed_s)?;
        }
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))?;
    if log.len() >= 2 {
        let points: Vec<LossPoint> = log
            .iter()
            .map(|e| LossPoint { step: e.step as f64, loss: f64::from(e.loss), learning_rate: e.learning_rate })
            .collect();
        write_loss_plot(&paths.loss_plot(), &points)?;
    }
    Ok(())
}

/// Reads a loss log written by this trainer (a missing file is an empty log).
pub fn read_loss_log(path: &Path) -> anyhow::Result<Vec<LossEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let parse = || -> Option<LossEntry> {
            Some(LossEntry {
                step: f.first()?.parse().ok()?,
                loss: f.get(1)?.parse().ok()?,
                learning_rate: f.get(2)?.parse().ok()?,
                elapsed_s: f.get(3)?.parse().ok()?,
            })
        };
        out.push(parse().with_context(|| {
            format!("{} line {}: expected step,loss,learning_rate,elapsed_s, got {line:?}", path.display(), i + 1)
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::duration_words;

    #[test]
    fn estimates_read_as_a_person_says_them() {
        assert_eq!(duration_words(40.2), "40 s");
        assert_eq!(duration_words(7.0 * 60.0 + 10.0), "7 min");
        assert_eq!(duration_words(2.0 * 3600.0 + 10.0 * 60.0), "2 h 10 min");
    }
}
