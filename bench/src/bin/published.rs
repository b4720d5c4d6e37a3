//! Times one forward pass of a published architecture on an RGB image, the way
//! `published_speed.py` times spandrel's PyTorch module and ncnn: RRDBNet (ESRGAN) or
//! Compact x4, fresh weights (the time does not depend on them), median of REPS passes
//! after one warm-up. Prints one JSON line.
//!
//! Usage: `regen-published-bench esrgan BLOCKS SIZE REPS` or `... compact CONVS SIZE REPS`.

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use regen::models::{CompactConfig, EsrganConfig, RestoreArch};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 4 {
        eprintln!("usage: regen-published-bench esrgan|compact BLOCKS|CONVS SIZE REPS");
        std::process::exit(2);
    }
    let n = |i: usize| a[i].parse::<usize>().expect("a number");
    let arch = match a[0].as_str() {
        "esrgan" => RestoreArch::Esrgan(EsrganConfig::new(3, 3).with_blocks(n(1))),
        _ => RestoreArch::Compact(CompactConfig::new(3, 3).with_convs(n(1))),
    };
    let (size, reps) = (n(2), n(3));
    regen::device::in_pool(|| {
        let device = regen::device::device();
        let net = arch.init(&device);
        let x = Tensor::<4>::random([1, 3, size, size], Distribution::Uniform(0.0, 1.0), &device);
        let mut times = Vec::new();
        for _ in 0..=reps {
            let t = Instant::now();
            let y = net.forward(x.clone());
            let _: Vec<f32> = y.into_data().try_to_vec().expect("f32");
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.remove(0);
        times.sort_by(f64::total_cmp);
        println!(
            "{{\"params\": {}, \"forward_ms\": {:.1}}}",
            arch.parameters(),
            times[times.len() / 2]
        );
    });
    // REGEN_PROFILE=1: each convolution pass's time per shape, on stderr.
    if let Some(report) = regen::engine::backend::profile_report() {
        eprintln!("{report}");
    }
}
