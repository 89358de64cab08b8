//! A saved project restores the same sound in a fresh instance, through the CLAP state
//! extension, even after the imported CSV or instrument file has gone from disk.

use ddsp_tests::clap_host::*;

/// Notes and automation both instances receive.
fn performance() -> Vec<(usize, Event)> {
    vec![(0, note_on(0, 60, 0.9)), (4_800, note_on(0, 67, 0.6)), (24_000, note_off(0, 60)), (30_000, note_off(0, 67))]
}

/// The persisted field `name` of the state `instance` saves now.
fn saved_field<T: serde::de::DeserializeOwned>(instance: &Instance, name: &str) -> T {
    let state = state_json(&instance.save_state());
    serde_json::from_str(state["fields"][name].as_str().unwrap()).unwrap()
}

#[test]
fn state_saved_by_one_instance_renders_identically_in_a_fresh_one_without_the_file() {
    // The user imports a CSV (here through the state, the same path a reload takes) and sets
    // some controls.
    let dir = std::env::temp_dir().join(format!("ddsp-plugin-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_path = dir.join("tone.csv");
    let csv = steady_tone_csv(180.0, &[0.4, 0.2, 0.15, 0.1], 200);
    std::fs::write(&csv_path, &csv).unwrap();

    let mut original = Instance::new();
    let state = state_with_csv(&original.save_state(), &csv_path.to_string_lossy(), &csv);
    original.load_state(&state);
    let setup: Vec<Event> = [("stretch", "1.5"), ("pitch", "3"), ("bounce", "on"), ("bnchz", "3"), ("release", "50")]
        .iter()
        .map(|(id, text)| param(0, param_hash(id), original.text_to_value(id, text)))
        .collect();
    original.flush(&setup);
    let saved = original.save_state();
    original.activate();
    let expected = original.render(48_000, 512, &performance());
    assert!(peak_abs(&expected) > 0.05, "the performance is audible");

    // Another machine: the file is not there.
    std::fs::remove_dir_all(&dir).unwrap();
    let mut restored = Instance::new();
    restored.load_state(&saved);
    assert!((restored.get_value("stretch") - original.get_value("stretch")).abs() < 1e-9);
    restored.activate();
    let got = restored.render(48_000, 512, &performance());
    assert_eq!(got, expected, "restored instance renders sample-identically");

    // And the state it saves again still carries the data and the path.
    let sound: ddsp_plugin::state::StoredSound = saved_field(&restored, "sound");
    assert_eq!(sound.path.as_deref(), Some(csv_path.to_string_lossy().as_ref()));
    assert_eq!(sound.csv_text().unwrap(), csv);
}

#[test]
fn a_corrupt_saved_sound_keeps_the_current_sound_playing() {
    let mut instance = Instance::new();
    let mut state = state_json(&instance.save_state());
    state["fields"]["sound"] = serde_json::Value::String(
        serde_json::to_string(&ddsp_plugin::state::StoredSound {
            path: Some("/gone.csv".into()),
            csv_deflate_b64: "not base64!".into(),
            by_path: false,
        })
        .unwrap(),
    );
    instance.load_state(&state_bytes(&state));
    instance.activate();
    let out = instance.render(24_000, 512, &[(0, note_on(0, 60, 1.0))]);
    assert!(peak_abs(&out) > 0.01, "the built-in sound still plays");
}

#[test]
fn a_sound_too_large_for_the_project_is_saved_as_its_path_and_plays_from_the_file() {
    // What "Import CSV…" stores for a CSV over the project limit (the choice itself is unit
    // tested in `state.rs`): the path alone. The project loads and plays the file.
    let dir = std::env::temp_dir().join(format!("ddsp-plugin-by-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_path = dir.join("long.csv");
    let csv = steady_tone_csv(180.0, &[0.4, 0.2, 0.15, 0.1], 200);
    std::fs::write(&csv_path, &csv).unwrap();
    let by_path = ddsp_plugin::state::StoredSound {
        path: Some(csv_path.to_string_lossy().into_owned()),
        csv_deflate_b64: String::new(),
        by_path: true,
    };
    let mut state = state_json(&Instance::new().save_state());
    state["fields"]["sound"] = serde_json::Value::String(serde_json::to_string(&by_path).unwrap());

    let mut from_path = Instance::new();
    from_path.load_state(&state_bytes(&state));
    let saved = from_path.save_state();
    from_path.activate();
    let got = from_path.render(48_000, 512, &performance());
    let mut with_data = Instance::new();
    with_data.load_state(&state_with_csv(&with_data.save_state(), &csv_path.to_string_lossy(), &csv));
    with_data.activate();
    assert_eq!(got, with_data.render(48_000, 512, &performance()), "the file plays as if stored");
    // Saved again, it is still the path alone.
    let resaved: ddsp_plugin::state::StoredSound =
        serde_json::from_str(state_json(&saved)["fields"]["sound"].as_str().unwrap()).unwrap();
    assert_eq!(resaved, by_path);

    // Without the file the built-in sound plays (the GUI names the missing file).
    std::fs::remove_dir_all(&dir).unwrap();
    let mut missing = Instance::new();
    missing.load_state(&saved);
    missing.activate();
    let builtin = {
        let mut fresh = Instance::new();
        fresh.activate();
        fresh.render(48_000, 512, &performance())
    };
    assert_eq!(missing.render(48_000, 512, &performance()), builtin);
    let kept: ddsp_plugin::state::StoredSound =
        serde_json::from_str(state_json(&missing.save_state())["fields"]["sound"].as_str().unwrap()).unwrap();
    assert_eq!(kept, by_path, "a project saved without the file still refers to it");
}

#[test]
fn an_imported_model_is_saved_with_the_project_and_plays_without_its_file() {
    let dir = std::env::temp_dir().join(format!("ddsp-plugin-model-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model_path = dir.join("breathy.ddsp");
    let bytes = breathy_model_bytes();
    std::fs::write(&model_path, &bytes).unwrap();
    let model_mode = |instance: &Instance| {
        instance.flush(&[param(0, param_hash("source"), instance.text_to_value("source", "Model"))]);
    };

    let mut original = Instance::new();
    original.load_state(&state_with_model(&original.save_state(), &model_path.to_string_lossy(), &bytes));
    model_mode(&original);
    let saved = original.save_state();
    original.activate();
    let expected = original.render(48_000, 512, &performance());
    assert!(peak_abs(&expected) > 0.01, "the imported model is audible");

    let mut builtin = Instance::new();
    model_mode(&builtin);
    builtin.activate();
    let builtin_out = builtin.render(48_000, 512, &performance());
    let difference = expected.iter().zip(&builtin_out).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(difference > 0.01, "the imported model, not the built-in one, plays (max difference {difference})");

    // Another machine: the instrument file is not there.
    std::fs::remove_dir_all(&dir).unwrap();
    let mut restored = Instance::new();
    restored.load_state(&saved);
    assert_eq!(restored.get_value("source"), original.get_value("source"), "Source = Model is restored");
    restored.activate();
    let got = restored.render(48_000, 512, &performance());
    assert_eq!(got, expected, "restored instance renders the model sample-identically");

    let model: ddsp_plugin::state::StoredModel = saved_field(&restored, "model");
    assert_eq!(model.path.as_deref(), Some(model_path.to_string_lossy().as_ref()));
    assert_eq!(model.bytes().unwrap(), bytes, "the project still carries the instrument file");
}
