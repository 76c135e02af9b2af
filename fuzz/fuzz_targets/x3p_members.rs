//! The X3P reader past the zip layer: the input is `main.xml`, a NUL, then
//! the point data, zipped here before reading. Mutating a real X3P rarely
//! gets this far, because the zip's CRC check refuses any changed member
//! before the XML parser or the sample decoder sees it.

#![no_main]

use std::io::{Cursor, Write};

use casetrace_engine::reading::{read_x3p, ReadLimits};
use casetrace_fuzz::check_surface;
use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fuzz_target!(|data: &[u8]| {
    let (xml, points) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let bytes = zip_of(xml, points);
    if let Ok(surface) = read_x3p(&bytes, "fuzz.x3p", &ReadLimits::default()) {
        check_surface(&surface);
    }
});

fn zip_of(xml: &[u8], points: &[u8]) -> Vec<u8> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in [("main.xml", xml), ("bindata/data.bin", points)] {
        zip.start_file(name, options).expect("in-memory zip");
        zip.write_all(content).expect("in-memory zip");
    }
    zip.finish().expect("in-memory zip").into_inner()
}
