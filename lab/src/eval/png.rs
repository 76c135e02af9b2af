//! A minimal PNG writer for the plots: 8-bit RGB, one IDAT of stored
//! (uncompressed) deflate blocks. Plots are small, so size does not matter,
//! and the CLI needs no image crate for it.

/// An RGB raster, row-major.
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[u8; 3]>,
}

impl Raster {
    pub fn new(width: u32, height: u32, fill: [u8; 3]) -> Self {
        Raster {
            width,
            height,
            pixels: vec![fill; (width * height) as usize],
        }
    }

    pub fn put(&mut self, x: u32, y: u32, c: [u8; 3]) {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize] = c;
        }
    }

    /// The PNG file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity((self.width * 3 + 1) as usize * self.height as usize);
        for row in self.pixels.chunks(self.width as usize) {
            raw.push(0); // filter: none
            raw.extend(row.iter().flatten());
        }
        let mut zlib = vec![0x78, 0x01];
        let mut blocks = raw.chunks(65_535).peekable();
        while let Some(block) = blocks.next() {
            zlib.push(u8::from(blocks.peek().is_none()));
            let len = block.len() as u16;
            zlib.extend(len.to_le_bytes());
            zlib.extend((!len).to_le_bytes());
            zlib.extend(block);
        }
        zlib.extend(adler32(&raw).to_be_bytes());
        let mut ihdr = Vec::new();
        ihdr.extend(self.width.to_be_bytes());
        ihdr.extend(self.height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &zlib);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend(kind);
    out.extend(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for x in bytes {
        a = (a + u32::from(*x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_crate_decodes_what_we_write() {
        let mut r = Raster::new(300, 250, [255, 255, 255]);
        r.put(7, 9, [1, 2, 3]);
        let img = image::load_from_memory(&r.encode())
            .expect("valid png")
            .to_rgb8();
        assert_eq!((img.width(), img.height()), (300, 250));
        assert_eq!(img.get_pixel(7, 9).0, [1, 2, 3]);
        assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
