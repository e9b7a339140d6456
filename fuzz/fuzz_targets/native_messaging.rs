//! Fuzz target `native_messaging`: see [`mailseal_fuzz::native_messaging`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailseal_fuzz::native_messaging(data));
