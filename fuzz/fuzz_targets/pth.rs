//! Any bytes as a published model file: see `regen::fuzz::pth`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::pth(data));
