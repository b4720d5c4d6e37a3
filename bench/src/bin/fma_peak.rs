//! `regen-fma-peak`: the f32 multiply-add rate these cores reach on registers alone, the
//! ceiling against which `bench/conv_shapes.py` states each kernel's share. A clock read
//! from `/proc/cpuinfo` and a width assumed from the CPU's name were both wrong here: the
//! nominal 2.6 GHz is not the boost clock, and this EPYC (family 26, Zen 5) runs 512-bit
//! multiply-adds at full width, two per cycle, not as two 256-bit halves.
//!
//! Prints one JSON line: GFLOP/s of one thread, and of `THREADS` threads at once (default 2).

// The probe is AVX-512 / AVX2 intrinsics on registers only; each block says why it is sound.
#![allow(unsafe_code)]

use std::time::Instant;

/// Multiply-adds per accumulator per call.
const ITERS: usize = 20_000_000;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn zmm_loop(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // 24 independent accumulators: more than the multiply-add latency times the pipes.
    let mut a = [_mm512_set1_ps(1.0); 24];
    let b = _mm512_set1_ps(1.000_000_1);
    let c = _mm512_set1_ps(1e-7);
    for _ in 0..iters {
        for v in a.iter_mut() {
            *v = _mm512_fmadd_ps(*v, b, c);
        }
    }
    let mut s = _mm512_setzero_ps();
    for v in a {
        s = _mm512_add_ps(s, v);
    }
    _mm512_reduce_add_ps(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn ymm_loop(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut a = [_mm256_set1_ps(1.0); 12];
    let b = _mm256_set1_ps(1.000_000_1);
    let c = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for v in a.iter_mut() {
            *v = _mm256_fmadd_ps(*v, b, c);
        }
    }
    let mut s = _mm256_setzero_ps();
    for v in a {
        s = _mm256_add_ps(s, v);
    }
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds the 8 lanes the unaligned store writes.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

/// GFLOP/s of one run on this thread, with the widest registers the CPU has.
fn rate() -> (f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            let t = Instant::now();
            // SAFETY: the CPU was just checked to have AVX-512F.
            let v = unsafe { zmm_loop(ITERS) };
            let s = t.elapsed().as_secs_f64();
            std::hint::black_box(v);
            return ((ITERS * 24 * 32) as f64 / s / 1e9, "avx512");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            let t = Instant::now();
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            let v = unsafe { ymm_loop(ITERS) };
            let s = t.elapsed().as_secs_f64();
            std::hint::black_box(v);
            return ((ITERS * 12 * 16) as f64 / s / 1e9, "avx2");
        }
    }
    (0.0, "none")
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .map(|v| v.parse().expect("THREADS: a number"))
        .unwrap_or(2);
    // Best of three, so a moment of other work on the machine does not set the ceiling.
    let (one, isa) = (0..3)
        .map(|_| rate())
        .fold((0.0, "none"), |b, r| if r.0 > b.0 { r } else { b });
    let all = (0..3)
        .map(|_| {
            let hs: Vec<_> = (0..threads).map(|_| std::thread::spawn(rate)).collect();
            hs.into_iter()
                .map(|h| h.join().expect("probe thread").0)
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    println!(
        "{{\"isa\": \"{isa}\", \"one_thread_gflops\": {one:.1}, \"threads\": {threads}, \"all_threads_gflops\": {all:.1}}}"
    );
}
