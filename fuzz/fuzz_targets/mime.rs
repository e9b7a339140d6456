//! Fuzz target `mime`: see [`mailseal_fuzz::mime`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::mime(data));
