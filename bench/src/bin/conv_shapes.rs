//! Times one convolution shape the way `conv_shapes.py` times PyTorch's: the forward pass,
//! and the backward pass (input and weight gradients, and the bias's) of `sum(y * g)` for a
//! fixed random `g`, through burn's autodiff. Prints one JSON line per shape.
//!
//! Usage: `regen-conv-bench REPS SPEC...`, each SPEC `n,c,h,w,k,ks,stride,pad,t` where `t`
//! is 1 for a transposed convolution (weight `[c, k, ks, ks]`).

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use regen::engine::{Act, conv_transpose2d, conv2d};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 2 {
        eprintln!("usage: regen-conv-bench REPS n,c,h,w,k,ks,stride,pad,t ...");
        std::process::exit(2);
    }
    let reps: usize = a[0].parse().expect("REPS");
    let device = regen::device::train_device();
    for spec in &a[1..] {
        let v: Vec<usize> = spec
            .split(',')
            .map(|s| s.parse().expect("a number"))
            .collect();
        let [n, c, h, w, k, ks, s, p, t] = v[..] else {
            panic!("spec needs 9 numbers: {spec}")
        };
        let transposed = t == 1;
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Default, &device).require_grad();
        let wshape = if transposed {
            [c, k, ks, ks]
        } else {
            [k, c, ks, ks]
        };
        let wt = Tensor::<4>::random(wshape, Distribution::Default, &device).require_grad();
        let b = Tensor::<1>::random([k], Distribution::Default, &device).require_grad();
        let run = |x: Tensor<4>, wt: Tensor<4>, b: Tensor<1>| {
            if transposed {
                conv_transpose2d(x, wt, Some(b), [s, s], [p, p], [0, 0], Act::None)
            } else {
                conv2d(x, wt, Some(b), [s, s], [p, p], Act::None)
            }
        };
        let y0 = run(x.clone(), wt.clone(), b.clone());
        let out = y0.dims();
        let g = Tensor::<4>::random(out, Distribution::Default, &device);
        let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
        for i in 0..reps + 1 {
            let t0 = Instant::now();
            let y = run(x.clone(), wt.clone(), b.clone());
            let _ = y.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data();
            let t1 = Instant::now();
            let loss = (y * g.clone()).sum();
            let grads = loss.backward();
            let gx = x.grad(&grads).expect("input gradient");
            let gw = wt.grad(&grads).expect("weight gradient");
            let _ = (gx.into_data(), gw.into_data());
            let t2 = Instant::now();
            if i > 0 {
                fwd.push((t1 - t0).as_secs_f64());
                bwd.push((t2 - t1).as_secs_f64());
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "{}",
            serde_json::json!({
                "spec": spec,
                "out": out,
                "forward_ms": 1000.0 * median(&mut fwd),
                "backward_ms": 1000.0 * median(&mut bwd),
            })
        );
    }
}
