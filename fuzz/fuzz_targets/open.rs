//! Fuzz target `open`: see [`mailseal_fuzz::open`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::open(data));
