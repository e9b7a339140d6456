//! Fuzz target `ocsp`: see [`mailseal_fuzz::ocsp`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::ocsp(data));
