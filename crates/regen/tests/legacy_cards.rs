//! Cards written before model descriptors map to the descriptors today's regen gives the
//! same models (fixtures: `tests/fixtures/legacy/make.sh`, run with the regen of 08226c4).

use std::path::{Path, PathBuf};

use regen::checkpoint::{read_card, read_card_file};
use regen::corrupt::Task;
use regen::models::{Descriptor, Family, Network, RestoreArch, ValueRange};
use regen::planes::Plane::{self, *};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy")
        .join(name)
}

/// The descriptor of fixture `name`, read from the whole file and from its header alone
/// (which must agree).
fn descriptor(name: &str) -> Descriptor {
    let path = fixture(name);
    let bytes = std::fs::read(&path).unwrap();
    let card = read_card(&path, &bytes).unwrap();
    assert_eq!(read_card_file(&path).unwrap(), card, "{name}");
    card.descriptor
}

/// A restorer fixture and what its descriptor must say: task, input planes, image
/// channels, architecture, receptive field.
type Expected<'a> = (&'a str, Task, &'a [Plane], usize, &'a str, usize);

#[test]
fn old_cards_read_as_descriptors() {
    let restorers: [Expected; 5] = [
        (
            "denoise-gray-map",
            Task::Denoise,
            &[Image(0), NoiseLevel],
            1,
            "encdec",
            2 * 27 + 1,
        ),
        (
            "dncnn-color",
            Task::Denoise,
            &[Image(0), Image(1), Image(2)],
            3,
            "dncnn",
            7,
        ),
        (
            "inpaint-gray",
            Task::Inpaint,
            &[Filled(0), Mask],
            1,
            "encdec",
            2 * 11 + 1,
        ),
        (
            "deblur-nonblind",
            Task::Deblur,
            &[Image(0), Deconvolved(0)],
            1,
            "encdec",
            23,
        ),
        // The latent bug's model: blind, with a noise level input (two planes, one image).
        (
            "deblur-blind-map",
            Task::Deblur,
            &[Image(0), NoiseLevel],
            1,
            "encdec",
            23,
        ),
    ];
    for (name, task, inputs, channels, arch, field) in restorers {
        let d = descriptor(&format!("{name}.safetensors"));
        assert_eq!(d.family, Family::Restore, "{name}");
        assert_eq!(d.task, Some(task), "{name}");
        assert_eq!(d.inputs, inputs, "{name}");
        assert_eq!(
            (d.out_channels, d.scale, d.range),
            (channels, 1, ValueRange::ZeroOne),
            "{name}"
        );
        assert_eq!(
            d.restore_arch().map(RestoreArch::name).as_deref(),
            Some(arch),
            "{name}"
        );
        assert_eq!(d.receptive_field, field, "{name}");
    }
    let blind = descriptor("deblur-blind-map.safetensors");
    assert!(blind.takes_sigma() && !blind.takes_kernel());

    let cvae = descriptor("cvae.safetensors");
    assert!(matches!(cvae.network, Network::Vae(ref c) if c.classes == 10 && c.latent == 4));
    assert_eq!(
        (cvae.family, cvae.task, cvae.has_encoder()),
        (Family::Vae, None, true)
    );
    let gan = descriptor("gan.safetensors");
    assert_eq!(
        (gan.family, gan.range, gan.classes()),
        (Family::Gan, ValueRange::MinusOneOne, 0)
    );
    let classifier = descriptor("classifier-card.safetensors");
    assert_eq!(
        (classifier.family, classifier.classes()),
        (Family::Classifier, 10)
    );
}
