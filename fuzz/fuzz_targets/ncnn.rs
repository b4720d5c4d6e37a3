//! Any bytes as a published model file: see `regen::fuzz::ncnn`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::ncnn(data));
