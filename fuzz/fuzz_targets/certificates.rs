//! Fuzz target `certificates`: see [`mailseal_fuzz::certificates`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::certificates(data));
