//! Fuzz target `crl`: see [`mailseal_fuzz::crl`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::crl(data));
