//! Any bytes through regen's image loader (and so its mask loader): see `regen::fuzz::image`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| regen::fuzz::image(data));
