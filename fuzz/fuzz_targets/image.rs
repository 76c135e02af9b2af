//! `read_surface`, the entry point every submission goes through: format
//! sniffing, then the PNG/TIFF/JPEG (or X3P) reader, with the server's
//! limits. Each input is read twice, without a scale (PNG pHYs or refusal)
//! and with one (the decoders proper).

#![no_main]

use casetrace_engine::reading::{read_surface, ReadLimits};
use casetrace_fuzz::check_surface;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ReadLimits::default();
    for scale in [None, Some(2.5)] {
        if let Ok((format, surface)) = read_surface(data, "fuzz.img", scale, &limits) {
            check_surface(&surface);
            assert_eq!(surface.kind, surface_kind(format));
        }
    }
});

fn surface_kind(format: casetrace_engine::reading::InputFormat) -> casetrace_engine::SurfaceKind {
    if format.is_topography() {
        casetrace_engine::SurfaceKind::Topography
    } else {
        casetrace_engine::SurfaceKind::Photograph
    }
}
