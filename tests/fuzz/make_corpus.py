#!/usr/bin/env python3
"""Writes the small seed corpora of the libFuzzer targets into tests/fuzz/corpus/<target>/.

Run from the repository root: python3 tests/fuzz/make_corpus.py. The first byte of each seed is the target's
knob byte (see the target's source); the rest is the file. A few tiny valid files and a few damaged ones each.
"""
import gzip
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(text, level=6):
    return gzip.compress(text, compresslevel=level, mtime=0)


def npy(descr, shape, payload):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + payload


def cache(rows, cols, selection=b"sel", names=()):
    h = b"FTCACHE\0" + struct.pack("<II", 1, 0) + struct.pack("<qqqi", 10, 20, rows, cols)
    h += struct.pack("<I", len(selection)) + selection + struct.pack("<I", len(names))
    for n in names:
        h += struct.pack("<I", len(n)) + n
    h += b"\0" * ((64 - len(h) % 64) % 64)
    h = h[:12] + struct.pack("<I", len(h)) + h[16:]
    body = struct.pack("<%df" % (rows * (1 + cols)), *range(rows * (1 + cols)))
    return h + body + b"FTCEND\0\0"


def checkpoint(sections, version=1):
    out = b"FTCKPT\0\0" + struct.pack("<II", version, len(sections))
    for name, data in sections:
        out += struct.pack("<I", len(name)) + name + struct.pack("<Q", len(data)) + data
    return out + struct.pack("<Q", len(out)) + b"\0\0\0\0"  # CRC left 0: the odd knob makes the target fix it


# gzip_fuzz: knob, then the .gz bytes.
csv = b"y,a,b\n1,2,3\n0,4.5,-6e3\n"
put("gzip_fuzz", "plain", b"\x00" + gz(csv))
put("gzip_fuzz", "two_members", b"\x10" + gz(b"1,2\n3,4\n") + gz(b"5,6\n7,8"))
put("gzip_fuzz", "padded", b"\x20" + gz(csv) + b"\0" * 16)
put("gzip_fuzz", "trailing", b"\x00" + gz(csv) + b"junk")
bad = bytearray(gz(csv)); bad[-1] ^= 1
put("gzip_fuzz", "bad_size", b"\x00" + bytes(bad))
bad = bytearray(gz(csv)); bad[-5] ^= 1
put("gzip_fuzz", "bad_crc", b"\x00" + bytes(bad))
put("gzip_fuzz", "truncated", b"\x00" + gz(csv)[:-6])
put("gzip_fuzz", "long_line", b"\x40" + gz(b"1," + b"7" * 300 + b"\n1,2\n", 1))
put("gzip_fuzz", "cr_only", b"\x21" + gz(b"y,a\r1,2\r0,NA\r"))
put("gzip_fuzz", "zeros", b"\x00" + gz(b"\0" * 4096, 1))

# npy_fuzz: knob, then the .npy bytes.
put("npy_fuzz", "f4", b"\x02" + npy("<f4", "(2, 3)", struct.pack("<6f", 1, 2, 3, 0, 4, 5)))
put("npy_fuzz", "f8_nan", b"\x06" + npy("<f8", "(2, 2)", struct.pack("<4d", 1, float("nan"), 0, 3.5e38)))
put("npy_fuzz", "wrap", b"\x02" + npy("<f4", "(4294967296, 1073741824)", b"\0" * 16))
put("npy_fuzz", "digits", b"\x02" + npy("<f4", "(99999999999999999999999, 2)", b""))
put("npy_fuzz", "truncated", b"\x02" + npy("<f4", "(5, 3)", b"\0" * 8))
put("npy_fuzz", "i8", b"\x02" + npy("<i8", "(1, 2)", b"\0" * 16))
put("npy_fuzz", "three_d", b"\x02" + npy("<f4", "(1, 2, 2)", b"\0" * 16))

# table_cache_fuzz: the cache file itself (the target takes its key from the file).
put("table_cache_fuzz", "valid", cache(2, 3, names=(b"a", b"b", b"c")))
put("table_cache_fuzz", "no_names", cache(3, 1))
put("table_cache_fuzz", "empty_rows", cache(0, 2))
w = bytearray(cache(2, 3)); w[32:40] = struct.pack("<q", (1 << 62) + 2)
put("table_cache_fuzz", "wrapping_rows", bytes(w))
put("table_cache_fuzz", "truncated", cache(2, 3)[:-5])

# checkpoint_fuzz: knob (odd: the target rewrites the trailer's length and CRC), then the file.
put("checkpoint_fuzz", "two", b"\x01" + checkpoint([(b"config", b'{"a":1}'), (b"weights", b"\0" * 16)]))
put("checkpoint_fuzz", "empty", b"\x01" + checkpoint([]))
put("checkpoint_fuzz", "duplicate", b"\x01" + checkpoint([(b"x", b""), (b"x", b"")]))
put("checkpoint_fuzz", "version9", b"\x01" + checkpoint([(b"x", b"1")], version=9))
put("checkpoint_fuzz", "bad_crc", b"\x00" + checkpoint([(b"x", b"1")]))
put("checkpoint_fuzz", "not_ckpt", b"\x00" + b"hello")
