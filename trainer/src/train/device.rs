//! `--device auto|cpu|wgpu`: where training runs.
//!
//! `auto` takes a GPU adapter when wgpu finds one (a discrete, integrated or virtual GPU; a
//! software rasteriser such as llvmpipe does not count: it is slower than the CPU backend) and
//! otherwise the Flex CPU backend. Adapter discovery is guarded: a machine without GPU drivers
//! falls back to the CPU with a note instead of stopping.

use burn::tensor::Device;

/// The `--device` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A GPU through wgpu when one exists, else the CPU.
    Auto,
    /// The CPU (burn's Flex backend, all cores).
    Cpu,
    /// A GPU through wgpu (Vulkan, Metal, DirectX 12); an error when there is none.
    Wgpu,
}

/// The device a run uses and how to describe it to the user.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The backend device (without autodiff; the trainer adds it).
    pub device: Device,
    /// One line for the user, e.g. "CPU (Flex, 2 threads; no GPU adapter found)".
    pub description: String,
    /// Whether it is a GPU.
    pub is_gpu: bool,
}

fn cpu(note: &str) -> SelectedDevice {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    SelectedDevice {
        device: Device::flex(),
        description: format!("CPU (Flex backend, {threads} threads{note})"),
        is_gpu: false,
    }
}

/// Resolves a `--device` choice.
pub fn select(choice: DeviceChoice) -> anyhow::Result<SelectedDevice> {
    match choice {
        DeviceChoice::Cpu => Ok(cpu("")),
        DeviceChoice::Auto => Ok(match find_gpu() {
            Ok(gpu) => gpu,
            Err(why) => cpu(&format!("; {why}")),
        }),
        DeviceChoice::Wgpu => find_gpu().map_err(|why| anyhow::anyhow!("--device wgpu: {why}")),
    }
}

#[cfg(feature = "wgpu")]
fn find_gpu() -> Result<SelectedDevice, String> {
    use burn::tensor::DeviceType;
    // Driver stacks can panic while being probed; a failed probe means "no GPU".
    let devices = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Device::enumerate(DeviceType::Wgpu)))
        .map_err(|_| "probing the GPU drivers failed".to_string())?;
    let gpu = devices
        .into_iter()
        .find(|d| {
            let name = format!("{d:?}");
            !name.contains("Cpu")
        })
        .ok_or_else(|| "no GPU adapter found".to_string())?;
    // Make sure the adapter really works before committing a run to it.
    let probe = gpu.clone();
    let works = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let t = burn::tensor::Tensor::<1>::from_floats([1.0f32, 2.0], &probe);
        t.sum().into_scalar::<f32>() == 3.0
    }))
    .unwrap_or(false);
    if !works {
        return Err(format!("the GPU adapter {gpu:?} failed a test computation"));
    }
    Ok(SelectedDevice { description: format!("GPU ({gpu:?} through wgpu)"), device: gpu, is_gpu: true })
}

#[cfg(not(feature = "wgpu"))]
fn find_gpu() -> Result<SelectedDevice, String> {
    Err("this ddsp was built without the `wgpu` feature".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_always_yields_a_working_device() {
        // On a machine without GPU this is the CPU fallback; with one, the GPU.
        let selected = select(DeviceChoice::Auto).unwrap();
        let t = burn::tensor::Tensor::<1>::from_floats([1.0f32, 2.0], &selected.device);
        assert_eq!(t.sum().into_scalar::<f32>(), 3.0);
        assert!(!selected.description.is_empty());
    }

    #[test]
    fn cpu_is_flex() {
        let selected = select(DeviceChoice::Cpu).unwrap();
        assert!(!selected.is_gpu);
        assert!(selected.description.starts_with("CPU"));
    }
}
