//! `regen models inspect`: what a model file is, from its descriptor.

mod common;

use common::{assert_user_error, fixtures, run, stderr};

#[test]
fn inspect_describes_shipped_models_and_old_checkpoints() {
    let o = run(&["models", "inspect", "denoise-color"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "family           restore",
        "task             denoise",
        "inputs           image 0, image 1, image 2, noise level",
        "outputs          3 channels, scale 1, values in [0, 1]",
        "receptive field  119 x 119 px (radius 59); tile margin 40 px",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let old = fixtures().join("legacy/inpaint-gray.safetensors");
    let o = run(&["models", "inspect", "--json", old.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &v["card"]["descriptor"];
    assert_eq!(d["task"], "inpaint");
    assert_eq!(d["inputs"], serde_json::json!([{"filled": 0}, "mask"]));
    assert_eq!(v["legacy_card"], true);
    // The tensors stored hold what the architecture says it has.
    let arch: regen::models::RestoreArch =
        serde_json::from_value(d["network"]["restore"].clone()).unwrap();
    assert_eq!(v["parameters"], arch.parameters());
}

#[test]
fn inspect_refuses_what_is_not_a_model_in_one_line() {
    assert_user_error(
        &run(&["models", "inspect", "/no/such.safetensors"]),
        "/no/such.safetensors: no such file",
    );
    let photo = fixtures().join("photos/clean-256.png");
    assert_user_error(
        &run(&["models", "inspect", photo.to_str().unwrap()]),
        "not a safetensors file",
    );
}
