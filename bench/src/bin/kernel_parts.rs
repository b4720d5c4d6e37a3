//! Times each kernel choice of one convolution shape on its own, outside burn: the forward
//! pass, the input gradient and the weight gradient, for `Kernel::Auto` (what regen runs),
//! `Kernel::Gemm` (matrix products over unfolded images), `Kernel::Winograd` (Winograd
//! wherever it fits) and `Kernel::Direct` (the direct
//! kernels wherever the channels allow). Medians of REPS; prints one line per shape. The
//! kernel rules in `crates/regen/src/engine/kernels.rs` quote its figures. `KB_ONLY=auto`
//! times only `Kernel::Auto` (for a profiler).
//!
//! Usage: `regen-kernel-bench REPS SPEC...`, each SPEC `n,c,h,w,k,ks,stride,pad` (a plain
//! convolution; a transposed one is the input gradient of the convolution it transposes).

use std::time::Instant;

use regen::engine::kernels::{
    Act, Geom, Kernel, conv_backward_data, conv_backward_weight, conv_forward,
};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 2 {
        eprintln!("usage: regen-kernel-bench REPS n,c,h,w,k,ks,stride,pad ...");
        std::process::exit(2);
    }
    let reps: usize = a[0].parse().expect("REPS");
    // As a training process does (`regen::device::device`).
    regen::engine::gemm::retain_freed_memory();
    for spec in &a[1..] {
        let v: Vec<usize> = spec
            .split(',')
            .map(|s| s.parse().expect("a number"))
            .collect();
        let [n, c, h, w, k, ks, s, p] = v[..] else {
            panic!("spec needs 8 numbers: {spec}")
        };
        let g = Geom::new([n, c, h, w], k, [ks, ks], [s, s], [p, p]).expect("an output");
        let x: Vec<f32> = (0..n * c * h * w).map(|i| (i % 7) as f32 * 0.1).collect();
        let wt: Vec<f32> = (0..k * g.ckk()).map(|i| (i % 5) as f32 * 0.1).collect();
        let dy: Vec<f32> = (0..n * k * g.p()).map(|i| (i % 3) as f32 * 0.1).collect();
        let kernels: Vec<Kernel> = match std::env::var("KB_ONLY").as_deref() {
            Ok("auto") => vec![Kernel::Auto],
            _ => vec![Kernel::Auto, Kernel::Gemm, Kernel::Direct, Kernel::Winograd],
        };
        // [kernel][pass] -> times; the kernels take turns within each repetition, so a
        // change in the machine's speed during the run falls on all of them alike.
        let mut t = vec![[Vec::new(), Vec::new(), Vec::new()]; kernels.len()];
        for _ in 0..reps {
            for (kt, &kern) in t.iter_mut().zip(&kernels) {
                let t0 = Instant::now();
                let y = conv_forward(&g, &x, &wt, None, Act::None, kern);
                let t1 = Instant::now();
                let dx = conv_backward_data(&g, &dy, &wt, kern);
                let t2 = Instant::now();
                let dw = conv_backward_weight(&g, &x, &dy, kern);
                let t3 = Instant::now();
                std::hint::black_box((y, dx, dw));
                kt[0].push((t1 - t0).as_secs_f64() * 1e3);
                kt[1].push((t2 - t1).as_secs_f64() * 1e3);
                kt[2].push((t3 - t2).as_secs_f64() * 1e3);
            }
        }
        let mut line = format!("{spec}:");
        for (kt, kern) in t.iter_mut().zip(&kernels) {
            for v in kt.iter_mut() {
                v.sort_by(f64::total_cmp);
            }
            line += &format!(
                "  {kern:?} fwd {:.2} bdata {:.2} bw {:.2}",
                kt[0][reps / 2],
                kt[1][reps / 2],
                kt[2][reps / 2]
            );
        }
        println!("{line}");
    }
}
