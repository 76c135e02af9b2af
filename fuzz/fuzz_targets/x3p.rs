//! The X3P reader on arbitrary bytes, with the limits the server uses.

#![no_main]

use casetrace_engine::reading::{read_x3p, ReadLimits};
use casetrace_fuzz::check_surface;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(surface) = read_x3p(data, "fuzz.x3p", &ReadLimits::default()) {
        check_surface(&surface);
    }
});
