//! Fuzz target `ber`: see [`mailseal_fuzz::ber`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::ber(data));
