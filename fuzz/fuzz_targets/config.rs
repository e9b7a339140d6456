//! Fuzz target `config`: see [`mailseal_fuzz::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::config(data));
