//! A minimal CLAP host for the end-to-end tests: loads the built `libddsp_plugin` shared
//! library through its `clap_entry` symbol, exactly as a DAW does, and drives one plugin
//! instance on the test thread (which plays both the host's main thread and audio thread).

#![allow(unsafe_op_in_unsafe_fn, clippy::missing_safety_doc)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use clap_sys::entry::clap_plugin_entry;
use clap_sys::events::*;
use clap_sys::ext::gui::{clap_host_gui, clap_plugin_gui, CLAP_EXT_GUI};
use clap_sys::ext::params::{clap_param_info, clap_plugin_params, CLAP_EXT_PARAMS};
use clap_sys::ext::state::{clap_plugin_state, CLAP_EXT_STATE};
use clap_sys::factory::plugin_factory::{clap_plugin_factory, CLAP_PLUGIN_FACTORY_ID};
use clap_sys::host::clap_host;
use clap_sys::plugin::clap_plugin;
use clap_sys::process::clap_process;
use clap_sys::stream::{clap_istream, clap_ostream};
use clap_sys::version::CLAP_VERSION;

/// Sample rate every test renders at.
pub const SAMPLE_RATE_HZ: f64 = 48_000.0;
/// Largest block the tests pass to `process`.
pub const MAX_BLOCK: u32 = 4096;

/// The built plugin library, in the test binary's `deps/` folder.
pub fn plugin_library_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let name = format!("{}ddsp_plugin{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    // `deps/` holds the library cargo built for this test run (the copy one level up may be
    // left from an older `cargo build`).
    for candidate in [profile_dir.join("deps").join(&name), profile_dir.join(&name)] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("{name} not found in {} (cargo builds it with the lib target)", profile_dir.display());
}

/// The library stays loaded for the whole test binary: plugins are created from it in several
/// tests, and unloading a library that spawned threads (GUI) is not safe.
fn library() -> &'static libloading::Library {
    static LIBRARY: OnceLock<libloading::Library> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let path = plugin_library_path();
        unsafe { libloading::Library::new(&path) }.unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
    })
}

/// `clap_entry` → `init` → plugin factory, once per process.
fn factory() -> &'static clap_plugin_factory {
    static FACTORY: OnceLock<usize> = OnceLock::new();
    let address = *FACTORY.get_or_init(|| unsafe {
        let entry: libloading::Symbol<*const clap_plugin_entry> =
            library().get(b"clap_entry\0").expect("clap_entry symbol exported");
        let entry = &**entry;
        let path = CString::new(plugin_library_path().to_string_lossy().as_bytes()).unwrap();
        assert!((entry.init.unwrap())(path.as_ptr()), "clap_entry.init failed");
        let factory = (entry.get_factory.unwrap())(CLAP_PLUGIN_FACTORY_ID.as_ptr()) as *const clap_plugin_factory;
        assert!(!factory.is_null(), "no plugin factory");
        factory as usize
    });
    unsafe { &*(address as *const clap_plugin_factory) }
}

/// What the host remembers between callbacks.
struct HostState {
    callback_requested: AtomicBool,
}

static HOST_GUI: clap_host_gui = clap_host_gui {
    resize_hints_changed: Some(host_gui_resize_hints_changed),
    request_resize: Some(host_gui_request_resize),
    request_show: Some(host_gui_request_show),
    request_hide: Some(host_gui_request_show),
    closed: Some(host_gui_closed),
};

unsafe extern "C" fn host_get_extension(_host: *const clap_host, id: *const c_char) -> *const c_void {
    if CStr::from_ptr(id) == CLAP_EXT_GUI {
        return &HOST_GUI as *const clap_host_gui as *const c_void;
    }
    ptr::null()
}
unsafe extern "C" fn host_request_restart(_host: *const clap_host) {}
unsafe extern "C" fn host_request_process(_host: *const clap_host) {}
unsafe extern "C" fn host_request_callback(host: *const clap_host) {
    let state = &*((*host).host_data as *const HostState);
    state.callback_requested.store(true, Ordering::SeqCst);
}
unsafe extern "C" fn host_gui_resize_hints_changed(_host: *const clap_host) {}
unsafe extern "C" fn host_gui_request_resize(_host: *const clap_host, _w: u32, _h: u32) -> bool {
    true
}
unsafe extern "C" fn host_gui_request_show(_host: *const clap_host) -> bool {
    true
}
unsafe extern "C" fn host_gui_closed(_host: *const clap_host, _destroyed: bool) {}

/// One host event, owned (the list hands out pointers to these).
#[derive(Clone, Copy)]
pub enum Event {
    Note(clap_event_note),
    Param(clap_event_param_value),
    Midi(clap_event_midi),
}

impl Event {
    fn header(&self) -> *const clap_event_header {
        match self {
            Event::Note(e) => &e.header,
            Event::Param(e) => &e.header,
            Event::Midi(e) => &e.header,
        }
    }
}

fn header(size: usize, time: u32, type_: u16) -> clap_event_header {
    clap_event_header { size: size as u32, time, space_id: CLAP_CORE_EVENT_SPACE_ID, type_, flags: 0 }
}

/// A note-on at `time` (velocity 0..1).
pub fn note_on(time: u32, key: i16, velocity: f64) -> Event {
    Event::Note(clap_event_note {
        header: header(size_of::<clap_event_note>(), time, CLAP_EVENT_NOTE_ON),
        note_id: -1,
        port_index: 0,
        channel: 0,
        key,
        velocity,
    })
}

/// A note-off at `time`.
pub fn note_off(time: u32, key: i16) -> Event {
    Event::Note(clap_event_note {
        header: header(size_of::<clap_event_note>(), time, CLAP_EVENT_NOTE_OFF),
        note_id: -1,
        port_index: 0,
        channel: 0,
        key,
        velocity: 0.0,
    })
}

/// A parameter change (CLAP value, as the params extension reports it) at `time`.
pub fn param(time: u32, param_id: u32, value: f64) -> Event {
    Event::Param(clap_event_param_value {
        header: header(size_of::<clap_event_param_value>(), time, CLAP_EVENT_PARAM_VALUE),
        param_id,
        cookie: ptr::null_mut(),
        note_id: -1,
        port_index: -1,
        channel: -1,
        key: -1,
        value,
    })
}

/// A MIDI pitch bend (`value` 0..16383, 8192 = centre) at `time`.
pub fn pitch_bend(time: u32, value: u16) -> Event {
    Event::Midi(clap_event_midi {
        header: header(size_of::<clap_event_midi>(), time, CLAP_EVENT_MIDI),
        port_index: 0,
        data: [0xE0, (value & 0x7f) as u8, (value >> 7) as u8],
    })
}

unsafe extern "C" fn events_size(list: *const clap_input_events) -> u32 {
    (*((*list).ctx as *const Vec<Event>)).len() as u32
}
unsafe extern "C" fn events_get(list: *const clap_input_events, index: u32) -> *const clap_event_header {
    let events = &*((*list).ctx as *const Vec<Event>);
    events.get(index as usize).map_or(ptr::null(), |e| e.header())
}
unsafe extern "C" fn events_push(_list: *const clap_output_events, _event: *const clap_event_header) -> bool {
    true
}
unsafe extern "C" fn ostream_write(stream: *const clap_ostream, buffer: *const c_void, size: u64) -> i64 {
    let out = &mut *((*stream).ctx as *mut Vec<u8>);
    out.extend_from_slice(std::slice::from_raw_parts(buffer as *const u8, size as usize));
    size as i64
}
unsafe extern "C" fn istream_read(stream: *const clap_istream, buffer: *mut c_void, size: u64) -> i64 {
    let (data, pos) = &mut *((*stream).ctx as *mut (Vec<u8>, usize));
    let n = (size as usize).min(data.len() - *pos);
    ptr::copy_nonoverlapping(data[*pos..].as_ptr(), buffer as *mut u8, n);
    *pos += n;
    n as i64
}

/// The same hash nice-plug gives a parameter's string id for its CLAP id.
pub fn param_hash(id: &str) -> u32 {
    let mut hash: u32 = 0;
    for byte in id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(byte as u32);
    }
    hash & !(1 << 31)
}

/// One parameter as the host sees it.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    pub id: u32,
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub automatable: bool,
}

/// A created and initialised plugin instance.
pub struct Instance {
    plugin: *const clap_plugin,
    host: Box<clap_host>,
    _host_state: Box<HostState>,
    _strings: Vec<CString>,
    activated: bool,
    processing: bool,
    steady_time: i64,
    /// The transport sent with each `process` call (`None`: no transport, a null pointer).
    pub transport: Option<clap_sys::events::clap_event_transport>,
}

impl Instance {
    /// factory → create_plugin → init.
    #[allow(clippy::new_without_default)] // creates a plugin in the loaded library: not a default value
    pub fn new() -> Self {
        let factory = factory();
        unsafe {
            assert_eq!((factory.get_plugin_count.unwrap())(factory), 1);
            let descriptor = &*(factory.get_plugin_descriptor.unwrap())(factory, 0);
            assert_eq!(CStr::from_ptr(descriptor.name).to_str().unwrap(), "DDSP Spectral Player");
            let strings: Vec<CString> = ["ddsp-rs test host", "ddsp-rs", "https://example.invalid", "0.1"]
                .iter()
                .map(|s| CString::new(*s).unwrap())
                .collect();
            let host_state = Box::new(HostState { callback_requested: AtomicBool::new(false) });
            let host = Box::new(clap_host {
                clap_version: CLAP_VERSION,
                host_data: &*host_state as *const HostState as *mut c_void,
                name: strings[0].as_ptr(),
                vendor: strings[1].as_ptr(),
                url: strings[2].as_ptr(),
                version: strings[3].as_ptr(),
                get_extension: Some(host_get_extension),
                request_restart: Some(host_request_restart),
                request_process: Some(host_request_process),
                request_callback: Some(host_request_callback),
            });
            let plugin = (factory.create_plugin.unwrap())(factory, &*host, descriptor.id);
            assert!(!plugin.is_null(), "create_plugin returned null");
            assert!(((*plugin).init.unwrap())(plugin), "plugin init failed");
            Self {
                plugin,
                host,
                _host_state: host_state,
                _strings: strings,
                activated: false,
                processing: false,
                steady_time: 0,
                transport: None,
            }
        }
    }

    fn extension<T>(&self, id: &CStr) -> &T {
        unsafe {
            let ext = ((*self.plugin).get_extension.unwrap())(self.plugin, id.as_ptr()) as *const T;
            assert!(!ext.is_null(), "plugin lacks extension {id:?}");
            &*ext
        }
    }

    pub fn raw(&self) -> *const clap_plugin {
        self.plugin
    }

    /// Runs `on_main_thread` if the plugin asked for it (GUI parameter changes, state rescans).
    pub fn pump_main_thread(&self) {
        if self._host_state.callback_requested.swap(false, Ordering::SeqCst) {
            unsafe { ((*self.plugin).on_main_thread.unwrap())(self.plugin) }
        }
    }

    /// Every parameter through the params extension.
    pub fn params(&self) -> Vec<ParamInfo> {
        let ext: &clap_plugin_params = self.extension(CLAP_EXT_PARAMS);
        unsafe {
            let count = (ext.count.unwrap())(self.plugin);
            (0..count)
                .map(|i| {
                    let mut info: clap_param_info = std::mem::zeroed();
                    assert!((ext.get_info.unwrap())(self.plugin, i, &mut info));
                    ParamInfo {
                        id: info.id,
                        name: CStr::from_ptr(info.name.as_ptr()).to_string_lossy().into_owned(),
                        min: info.min_value,
                        max: info.max_value,
                        default: info.default_value,
                        automatable: info.flags & clap_sys::ext::params::CLAP_PARAM_IS_AUTOMATABLE != 0,
                    }
                })
                .collect()
        }
    }

    /// The CLAP value for `text` (e.g. "2.0" for stretch), as a host's text entry does it.
    pub fn text_to_value(&self, id: &str, text: &str) -> f64 {
        let ext: &clap_plugin_params = self.extension(CLAP_EXT_PARAMS);
        let text_c = CString::new(text).unwrap();
        let mut value = 0.0;
        let ok = unsafe { (ext.text_to_value.unwrap())(self.plugin, param_hash(id), text_c.as_ptr(), &mut value) };
        assert!(ok, "text_to_value({id}, {text}) failed");
        value
    }

    /// The current CLAP value of a parameter.
    pub fn get_value(&self, id: &str) -> f64 {
        let ext: &clap_plugin_params = self.extension(CLAP_EXT_PARAMS);
        let mut value = 0.0;
        assert!(unsafe { (ext.get_value.unwrap())(self.plugin, param_hash(id), &mut value) });
        value
    }

    /// Sets parameters outside of processing (`params.flush`), as hosts do while stopped.
    pub fn flush(&self, events: &[Event]) {
        let ext: &clap_plugin_params = self.extension(CLAP_EXT_PARAMS);
        let events: Vec<Event> = events.to_vec();
        let in_events = clap_input_events {
            ctx: &events as *const Vec<Event> as *mut c_void,
            size: Some(events_size),
            get: Some(events_get),
        };
        let out_events = clap_output_events { ctx: ptr::null_mut(), try_push: Some(events_push) };
        unsafe { (ext.flush.unwrap())(self.plugin, &in_events, &out_events) };
    }

    /// Saves the state through the state extension.
    pub fn save_state(&self) -> Vec<u8> {
        let ext: &clap_plugin_state = self.extension(CLAP_EXT_STATE);
        let mut data: Vec<u8> = Vec::new();
        let stream = clap_ostream { ctx: &mut data as *mut Vec<u8> as *mut c_void, write: Some(ostream_write) };
        assert!(unsafe { (ext.save.unwrap())(self.plugin, &stream) }, "state save failed");
        data
    }

    /// Loads a state through the state extension.
    pub fn load_state(&self, data: &[u8]) {
        assert!(self.try_load_state(data), "state load failed");
    }

    /// Loads a state through the state extension and says whether the plugin accepted it.
    pub fn try_load_state(&self, data: &[u8]) -> bool {
        let ext: &clap_plugin_state = self.extension(CLAP_EXT_STATE);
        let mut ctx = (data.to_vec(), 0usize);
        let stream = clap_istream { ctx: &mut ctx as *mut (Vec<u8>, usize) as *mut c_void, read: Some(istream_read) };
        let accepted = unsafe { (ext.load.unwrap())(self.plugin, &stream) };
        self.pump_main_thread();
        accepted
    }

    /// activate(48 kHz, 1..=MAX_BLOCK) and start_processing.
    pub fn activate(&mut self) {
        unsafe {
            assert!(((*self.plugin).activate.unwrap())(self.plugin, SAMPLE_RATE_HZ, 1, MAX_BLOCK), "activate failed");
            self.activated = true;
            assert!(((*self.plugin).start_processing.unwrap())(self.plugin), "start_processing failed");
            self.processing = true;
        }
    }

    /// Renders `frames` stereo samples with `events` (times relative to this block) and
    /// returns the left channel, after checking that both channels are equal and finite.
    pub fn process(&mut self, frames: u32, events: &[Event]) -> Vec<f32> {
        assert!(frames <= MAX_BLOCK);
        let mut left = vec![f32::NAN; frames as usize];
        let mut right = vec![f32::NAN; frames as usize];
        let mut channels = [left.as_mut_ptr(), right.as_mut_ptr()];
        let mut output = clap_sys::audio_buffer::clap_audio_buffer {
            data32: channels.as_mut_ptr(),
            data64: ptr::null_mut(),
            channel_count: 2,
            latency: 0,
            constant_mask: 0,
        };
        let events: Vec<Event> = events.to_vec();
        let in_events = clap_input_events {
            ctx: &events as *const Vec<Event> as *mut c_void,
            size: Some(events_size),
            get: Some(events_get),
        };
        let out_events = clap_output_events { ctx: ptr::null_mut(), try_push: Some(events_push) };
        let process = clap_process {
            steady_time: self.steady_time,
            frames_count: frames,
            transport: self.transport.as_ref().map_or(ptr::null(), |t| t as *const _),
            audio_inputs: ptr::null(),
            audio_outputs: &mut output,
            audio_inputs_count: 0,
            audio_outputs_count: 1,
            in_events: &in_events,
            out_events: &out_events,
        };
        let status = unsafe { ((*self.plugin).process.unwrap())(self.plugin, &process) };
        assert_ne!(status, clap_sys::process::CLAP_PROCESS_ERROR, "process returned an error");
        self.steady_time += frames as i64;
        assert!(left.iter().all(|s| s.is_finite()), "non-finite output");
        assert_eq!(left, right, "both channels carry the same mono voice mix");
        self.pump_main_thread();
        left
    }

    /// Renders `total` samples in blocks of `block`, with `events` at absolute sample times.
    pub fn render(&mut self, total: usize, block: usize, events: &[(usize, Event)]) -> Vec<f32> {
        let mut out = Vec::with_capacity(total);
        let mut start = 0;
        while start < total {
            let len = block.min(total - start);
            let block_events: Vec<Event> = events
                .iter()
                .filter(|(t, _)| (start..start + len).contains(t))
                .map(|(t, e)| retime(*e, (t - start) as u32))
                .collect();
            out.extend(self.process(len as u32, &block_events));
            start += len;
        }
        out
    }

    /// The GUI extension.
    pub fn gui(&self) -> &clap_plugin_gui {
        self.extension(CLAP_EXT_GUI)
    }
}

/// `event` with its time set to `time`.
pub fn retime(event: Event, time: u32) -> Event {
    match event {
        Event::Note(mut e) => {
            e.header.time = time;
            Event::Note(e)
        }
        Event::Param(mut e) => {
            e.header.time = time;
            Event::Param(e)
        }
        Event::Midi(mut e) => {
            e.header.time = time;
            Event::Midi(e)
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        unsafe {
            if self.processing {
                ((*self.plugin).stop_processing.unwrap())(self.plugin);
            }
            if self.activated {
                ((*self.plugin).deactivate.unwrap())(self.plugin);
            }
            ((*self.plugin).destroy.unwrap())(self.plugin);
        }
        let _ = &self.host;
    }
}

/// A unified CSV with a steady `f0_hz` tone: harmonics at exact multiples with amplitudes
/// `amps`, and no noise, `frames` frames at 100 frames per second.
pub fn steady_tone_csv(f0_hz: f32, amps: &[f32], frames: usize) -> String {
    let mut text = String::from(
        "# frame_rate=100,sample_rate=48000\nframe_index,f0_hz,component_type,component_index,frequency,value\n",
    );
    for i in 0..frames {
        for (k, amp) in amps.iter().enumerate() {
            text.push_str(&format!("{i},{f0_hz},harmonic,{k},{},{amp}\n", f0_hz * (k + 1) as f32));
        }
        text.push_str(&format!("{i},{f0_hz},noise_band,0,0,0\n{i},{f0_hz},noise_band,1,24000,0\n"));
    }
    text
}

/// A plugin state (JSON, as nice-plug writes it) with the `sound` field replaced by `csv_text`
/// imported from `path`: what the plugin saves after "Import CSV…" of that file.
pub fn state_with_csv(base_state: &[u8], path: &str, csv_text: &str) -> Vec<u8> {
    let stored = ddsp_plugin::state::StoredSound::from_csv(Some(path.to_owned()), csv_text);
    let mut state = state_json(base_state);
    state["fields"]["sound"] = serde_json::Value::String(serde_json::to_string(&stored).unwrap());
    state_bytes(&state)
}

/// A plugin state with the `model` field replaced by the instrument file `bytes` imported from
/// `path`: what the plugin saves after "Import Model…" of that file.
pub fn state_with_model(base_state: &[u8], path: &str, bytes: &[u8]) -> Vec<u8> {
    let stored = ddsp_plugin::state::StoredModel::from_bytes(Some(path.to_owned()), bytes);
    let mut state = state_json(base_state);
    state["fields"]["model"] = serde_json::Value::String(serde_json::to_string(&stored).unwrap());
    state_bytes(&state)
}

/// The built-in model with a louder noise output: an instrument file that sounds unlike the
/// built-in one, so a test can tell which of the two plays.
pub fn breathy_model_bytes() -> Vec<u8> {
    let mut model = ddsp_plugin::state::parse_model(ddsp_plugin::state::BUILTIN_MODEL, "built-in").unwrap();
    model.name = "breathy".into();
    let harmonic_outputs = 1 + ddsp_shared::instrument::HARMONIC_COUNT;
    for bias in &mut model.weights.dense_out.bias[harmonic_outputs..] {
        *bias += 3.0;
    }
    model.to_bytes()
}

/// The JSON of a CLAP state blob (nice-plug prefixes it with its length, 8 bytes LE).
pub fn state_json(blob: &[u8]) -> serde_json::Value {
    let length = u64::from_le_bytes(blob[..8].try_into().unwrap()) as usize;
    assert_eq!(length, blob.len() - 8, "state length prefix");
    serde_json::from_slice(&blob[8..]).expect("state is JSON")
}

/// A CLAP state blob holding `state`.
pub fn state_bytes(state: &serde_json::Value) -> Vec<u8> {
    let json = serde_json::to_vec(state).unwrap();
    let mut blob = (json.len() as u64).to_le_bytes().to_vec();
    blob.extend(json);
    blob
}

/// Magnitude spectrum (Hann window) of `samples`, bin width `SAMPLE_RATE_HZ / samples.len()`.
pub fn spectrum(samples: &[f32]) -> Vec<f32> {
    let n = samples.len();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n);
    let mut input: Vec<f32> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| s * (0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos()))
        .collect();
    let mut output = fft.make_output_vec();
    fft.process(&mut input, &mut output).unwrap();
    output.iter().map(|c| c.norm()).collect()
}

/// Frequency of the strongest spectral peak of `samples`, Hz (parabolic interpolation).
pub fn peak_hz(samples: &[f32]) -> f64 {
    let mags = spectrum(samples);
    let (k, _) =
        mags.iter().enumerate().skip(1).fold((0, 0.0f32), |best, (k, &m)| if m > best.1 { (k, m) } else { best });
    let (a, b, c) = (mags[k - 1] as f64, mags[k] as f64, mags[k + 1] as f64);
    let offset = 0.5 * (a - c) / (a - 2.0 * b + c);
    (k as f64 + offset) * SAMPLE_RATE_HZ / samples.len() as f64
}

/// Spectral magnitude of `samples` near `hz` (the largest bin within ±2 bins).
pub fn level_at(samples: &[f32], hz: f64) -> f32 {
    let mags = spectrum(samples);
    let bin = (hz * samples.len() as f64 / SAMPLE_RATE_HZ).round() as usize;
    mags[bin.saturating_sub(2)..=(bin + 2).min(mags.len() - 1)].iter().copied().fold(0.0, f32::max)
}

/// Largest absolute sample.
pub fn peak_abs(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0, |m, s| m.max(s.abs()))
}

/// A playing host transport at song position `pos_s` (seconds timeline, tempo 120).
pub fn playing_transport(pos_s: f64) -> clap_sys::events::clap_event_transport {
    use clap_sys::events::*;
    use clap_sys::fixedpoint::CLAP_SECTIME_FACTOR;
    clap_event_transport {
        header: clap_event_header {
            size: std::mem::size_of::<clap_event_transport>() as u32,
            time: 0,
            space_id: CLAP_CORE_EVENT_SPACE_ID,
            type_: CLAP_EVENT_TRANSPORT,
            flags: 0,
        },
        flags: CLAP_TRANSPORT_IS_PLAYING | CLAP_TRANSPORT_HAS_SECONDS_TIMELINE | CLAP_TRANSPORT_HAS_TEMPO,
        song_pos_beats: 0,
        song_pos_seconds: (pos_s * CLAP_SECTIME_FACTOR as f64).round() as i64,
        tempo: 120.0,
        tempo_inc: 0.0,
        loop_start_beats: 0,
        loop_end_beats: 0,
        loop_start_seconds: 0,
        loop_end_seconds: 0,
        bar_start: 0,
        bar_number: 0,
        tsig_num: 4,
        tsig_denom: 4,
    }
}
