//! Any text as a training config of each family: see `regen::fuzz::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::config(data));
