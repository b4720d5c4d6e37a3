//! The all-reduce each data-parallel training step makes, timed on the gradient buffers of
//! regen's shipped networks (`--features mpi`; run under `mpirun -np N`):
//!
//! ```text
//! cargo build --release -p regen --features mpi --example allreduce
//! mpirun -np 2 target/release/examples/allreduce [repeats]
//! ```
//!
//! For each shipped model: its trained parameters (the gradient buffer's floats; the GAN's
//! two networks each have their own all-reduce per round), and the median time of one
//! `dist::all_reduce_grads`-sized f32 sum over the ranks. Rank 0 prints a Markdown table.

use std::time::Instant;

use burn::module::Module;
use regen::models::Network;

fn main() {
    let _mpi = regen::dist::mpi::start();
    let w = regen::dist::world();
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let device = regen::device::device();
    let mut rows: Vec<(String, usize)> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("the models folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).expect("a model");
        let card = regen::checkpoint::read_card(&path, &bytes).expect("a card");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        match &card.descriptor.network {
            Network::Restore(a) => rows.push((name, a.init(&device).num_params())),
            Network::Vae(c) => rows.push((name, c.init(&device).num_params())),
            Network::Gan(c) => {
                rows.push((
                    format!("{name} (G)"),
                    c.init_generator(&device).num_params(),
                ));
                rows.push((
                    format!("{name} (D)"),
                    c.init_discriminator(&device).num_params(),
                ));
            }
            Network::Classifier(_) => {}
        }
    }
    if w.rank() == 0 {
        println!(
            "| network | parameters | MB (f32) | all-reduce, {} ranks (ms, median of {repeats}) |",
            w.size()
        );
        println!("|---|---:|---:|---:|");
    }
    for (name, n) in rows {
        let mut buf = vec![1.0f32; n];
        // Warm up the connection and the buffers once.
        w.all_reduce_f32(&mut buf);
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                w.all_reduce_f32(&mut buf);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        // Every rank's median; the slowest rank's is the step's.
        let mut med = vec![0.0f64; w.size()];
        med[w.rank()] = times[times.len() / 2];
        w.all_reduce_f64(&mut med);
        let slowest = med.iter().cloned().fold(0.0, f64::max);
        if w.rank() == 0 {
            println!(
                "| {name} | {n} | {:.2} | {slowest:.2} |",
                n as f64 * 4.0 / 1e6
            );
        }
    }
}
