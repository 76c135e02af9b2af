#!/usr/bin/env python3
"""Write the seed corpora the fuzz targets start from: a few small, valid
inputs per target, so libFuzzer mutates real structure (zip + XML, PNG
chunks, TIFF tags, JPEG markers, CSV headers) instead of guessing magic
bytes. Generated rather than committed, so they follow this script.

Usage: seeds.py CORPUS_DIR [SHARED_DATA_DIR]

With SHARED_DATA_DIR (../shared/data), the header of a real Weller scan is
reused over a tiny grid: the real files are megabytes, far past what
libFuzzer mutates usefully, but their main.xml is what the reader must
survive. Nothing from there is written into the repository.
"""

import hashlib
import io
import math
import os
import struct
import sys
import zipfile
import zlib


def write(corpus, target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- X3P ------------------------------------------------------------------

MAIN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2">
  <Record1><Axes>
    <CX><AxisType>I</AxisType><DataType>D</DataType><Increment>{inc}</Increment><Offset>0</Offset></CX>
    <CY><AxisType>I</AxisType><DataType>D</DataType><Increment>{inc}</Increment><Offset>0</Offset></CY>
    <CZ><AxisType>A</AxisType><DataType>{dtype}</DataType><Increment>{zinc}</Increment><Offset>{zoff}</Offset></CZ>
  </Axes></Record1>
  <Record3>
    <MatrixDimension><SizeX>{w}</SizeX><SizeY>{h}</SizeY><SizeZ>1</SizeZ></MatrixDimension>
    <DataLink><PointDataLink>bindata/data.bin</PointDataLink>{md5}</DataLink>
  </Record3>
</p:ISO5436_2>
"""

PACK = {"D": "<d", "F": "<f", "L": "<i", "I": "<h"}


def x3p(xml, data, deflate=True):
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as z:
        z.writestr("bindata/", b"")
        z.writestr("main.xml", xml)
        z.writestr("bindata/data.bin", data)
        z.writestr("md5checksum.hex", hashlib.md5(xml.encode()).hexdigest() + " *main.xml\n")
    return out.getvalue()


def x3p_seeds(corpus, shared):
    cases = [
        # name, type, w, h, increment, z increment, z offset, samples, md5, deflate
        ("d-metres", "D", 3, 2, "2.5e-6", "1", "0", [1e-6, float("nan"), -2e-6, 3e-7, 0.0, 5e-6], True, True),
        ("f-micrometres", "F", 2, 2, "6.25", "1", "0", [1.5, float("nan"), -0.25, float("inf")], True, False),
        ("i16-codes", "I", 2, 2, "2.5e-6", "1e-8", "2e-6", [0, 100, -100, 32767], False, True),
        ("i32-codes", "L", 4, 1, "1e-5", "1e-9", "0", [1, -1, 2**31 - 1, -(2**31)], True, True),
    ]
    for name, dtype, w, h, inc, zinc, zoff, samples, with_md5, deflate in cases:
        data = b"".join(struct.pack(PACK[dtype], v) for v in samples)
        md5 = f"<MD5ChecksumPointData>{hashlib.md5(data).hexdigest()}</MD5ChecksumPointData>" if with_md5 else ""
        xml = MAIN_XML.format(inc=inc, dtype=dtype, zinc=zinc, zoff=zoff, w=w, h=h, md5=md5)
        write(corpus, "x3p", name + ".x3p", x3p(xml, data, deflate))
        write(corpus, "x3p_members", name, xml.encode() + b"\0" + data)

    scan = os.path.join(shared or "", "weller", "TW01-01.x3p")
    if shared and os.path.exists(scan):
        # A real NanoFocus header over a 3 x 2 grid, checksum dropped.
        xml = zipfile.ZipFile(scan).read("main.xml").decode()
        for tag, value in (("SizeX", "3"), ("SizeY", "2")):
            start, end = xml.index(f"<{tag}>") + len(tag) + 2, xml.index(f"</{tag}>")
            xml = xml[:start] + value + xml[end:]
        start = xml.index("<MD5ChecksumPointData>")
        end = xml.index("</MD5ChecksumPointData>") + len("</MD5ChecksumPointData>")
        xml = xml[:start] + xml[end:]
        data = b"".join(struct.pack("<d", v) for v in [1e-6, 2e-6, float("nan"), 0.0, -1e-6, 4e-6])
        write(corpus, "x3p", "weller-header.x3p", x3p(xml, data))
        write(corpus, "x3p_members", "weller-header", xml.encode() + b"\0" + data)


# --- Images ---------------------------------------------------------------


def png_chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(w, h, depth, colour, rows, phys=None, plte=None):
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    if phys:
        out += png_chunk(b"pHYs", struct.pack(">IIB", phys, phys, 1))
    if plte:
        out += png_chunk(b"PLTE", plte)
    raw = b"".join(b"\x00" + r for r in rows)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def tiff(w, h, bits, samples, sample_format, pixels, big_endian=False):
    """Uncompressed single-strip TIFF."""
    e = ">" if big_endian else "<"
    header = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8)
    tags = [
        (256, 3, 1, w),
        (257, 3, 1, h),
        (258, 3, 1, bits),  # samples of one pixel share a depth here
        (259, 3, 1, 1),
        (262, 3, 1, 2 if samples == 3 else 1),
        (273, 4, 1, 0),  # patched below
        (277, 3, 1, samples),
        (278, 3, 1, h),
        (279, 4, 1, len(pixels)),
        (339, 3, 1, sample_format),
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    data_at = 8 + ifd_size
    ifd = struct.pack(e + "H", len(tags))
    for tag, kind, count, value in tags:
        if tag == 273:
            value = data_at
        if kind == 3:
            ifd += struct.pack(e + "HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack(e + "HHII", tag, kind, count, value)
    return header + ifd + struct.pack(e + "I", 0) + pixels


def jpeg(blocks_w, blocks_h):
    """A baseline grey JPEG whose every coefficient is zero (mid grey): the
    smallest file with every marker a real one has."""
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8 * blocks_h, 8 * blocks_w, 1) + b"\x01\x11\x00"
    # One code each: DC category 0, AC end-of-block.
    dht = b"".join(
        b"\xff\xc4" + struct.pack(">H", 20) + bytes([table]) + b"\x01" + b"\x00" * 15 + b"\x00"
        for table in (0x00, 0x10)
    )
    sos = b"\xff\xda" + struct.pack(">HBBBBBB", 8, 1, 1, 0x00, 0, 63, 0)
    bits = "00" * (blocks_w * blocks_h)
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    scan = scan.replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + dqt + sof + dht + sos + scan + b"\xff\xd9"


def image_seeds(corpus):
    grey8 = [bytes((x * 40 + y * 7) % 256 for x in range(4)) for y in range(3)]
    write(corpus, "image", "grey8.png", png(4, 3, 8, 0, grey8))
    write(corpus, "image", "grey8-phys.png", png(4, 3, 8, 0, grey8, phys=395_257))
    grey16 = [b"".join(struct.pack(">H", x * 9000 + y) for x in range(3)) for y in range(2)]
    write(corpus, "image", "grey16.png", png(3, 2, 16, 0, grey16))
    rgb = bytes(v for x in range(3) for v in (x * 50, 80, 200))
    write(corpus, "image", "rgb8.png", png(3, 1, 8, 2, [rgb]))
    rgba = [bytes([10, 20, 30, 255, 40, 50, 60, 0])]
    write(corpus, "image", "rgba8.png", png(2, 1, 8, 6, rgba))
    write(corpus, "image", "palette.png", png(2, 2, 8, 3, [b"\x00\x01", b"\x01\x00"], plte=b"\x00\x00\x00\xff\xff\xff"))

    write(corpus, "image", "grey8.tiff", tiff(4, 3, 8, 1, 1, bytes(range(12))))
    write(corpus, "image", "grey16-be.tiff", tiff(2, 2, 16, 1, 1, struct.pack(">4H", 0, 1000, 40000, 65535), True))
    floats = struct.pack("<4f", 0.5, float("nan"), -1.25, 3e5)
    write(corpus, "image", "float32.tiff", tiff(2, 2, 32, 1, 3, floats))
    write(corpus, "image", "rgb8.tiff", tiff(2, 1, 8, 3, 1, bytes([1, 2, 3, 200, 100, 50])))

    write(corpus, "image", "grey-8x8.jpg", jpeg(1, 1))
    write(corpus, "image", "grey-16x8.jpg", jpeg(2, 1))


# --- Tables ---------------------------------------------------------------


def table_seeds(corpus):
    manifests = {
        "plain.csv": "file,casing_id,agency,kind,case_number,calibre,um_per_px,lab\n"
        "scans/a.x3p,A-1,north,evidence,2024-17,9mm Luger,,bench 2\n"
        "b.png,B-1,,test_fire,,,2.53,\n"
        ",C-1,,shell,,,-1,\n",
        "quoted.csv": 'file,casing_id,notes\n"x,y.png","Q-""1""","multi\nline"\n../up.x3p,U-1,\n',
        "rows.jsonl": '{"file":"a.x3p","casing_id":"A-1","kind":"evidence","um_per_px":2.5}\n'
        '\n[1,2]\n{"file":"b.png","casing_id":"B-1","agency":null,"extra":{"k":[1,true]}}\n'
        '{"file":"c.x3p","casing_id":7,"record":"trace"}\n{oops\n',
    }
    for name, text in manifests.items():
        write(corpus, "manifest", name, text.encode())

    traces = {
        "traces.csv": "trace_number,serial,date,event,agency,make,model,type,calibre,latitude,longitude,obliterated,restored_chars,casing_id\n"
        "T-1,AB-12 34,2024-05-02,recovery,lab,Ruger,LC9,pistol,9mm,40.1,-75.2,no,,\n"
        "T-2,RP0?4,2024-13-01,dealer_sale,,,,,,north,,maybe,2,\n"
        "T-3,X9,2023-02-28,test_fire,,,,,,,,,,LAB-7\n",
        "traces.jsonl": '{"trace_number":"T-1","serial":"A8105","date":"2024-01-01","latitude":1e3}\n'
        '{"trace_number":5,"serial":"","date":"2024-02-30","crime_cod":"13"}\n',
    }
    for name, text in traces.items():
        write(corpus, "trace_file", name, text.encode())


def serial_seeds(corpus):
    # One byte of edit budget, then pattern, newline, serial.
    cases = [
        (0, "A?3*9", "A1239"),
        (1, "RP0?4-21?", "RP034-217"),
        (2, "AB-1O5 739", "A8105740"),
        (1, "*739", "XB105739"),
        (3, "s/n: 12-ab", "I2AB"),
        (2, "Q*7*0", "Q7770000"),
    ]
    for i, (budget, pattern, serial) in enumerate(cases):
        write(corpus, "serial_pattern", f"{i}", bytes([budget]) + f"{pattern}\n{serial}".encode())


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    corpus = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) == 3 else None
    x3p_seeds(corpus, shared)
    image_seeds(corpus)
    table_seeds(corpus)
    serial_seeds(corpus)


if __name__ == "__main__":
    main()
