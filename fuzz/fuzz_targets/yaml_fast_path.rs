//! The YAML fast path (`spec/fast.rs`) against yaml-rust2 on arbitrary text: wherever the fast path accepts a
//! text, it must build exactly the nodes (text, style, positions) that yaml-rust2's events give.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        adsctl::spec::fuzz_fast_yaml(text);
    }
});
