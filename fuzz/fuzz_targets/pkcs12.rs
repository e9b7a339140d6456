//! Fuzz target `pkcs12`: see [`mailseal_fuzz::pkcs12`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::pkcs12(data));
