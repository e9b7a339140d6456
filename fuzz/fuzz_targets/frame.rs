//! Fuzz target `frame`: see [`mailseal_fuzz::frame`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::frame(data));
