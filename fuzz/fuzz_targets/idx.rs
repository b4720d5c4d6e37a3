//! Any bytes as an IDX file (MNIST's format): see `regen::fuzz::idx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::idx(data));
