"""Decode 8-bit PNG images per the PNG specification (W3C PNG, 2nd edition), strictly: anything else is refused.

    grey = decode(data)     # (H, W) uint8; BadPNG names what is wrong with the file (Unsupported: a kind not read)

What is checked, in file order (section numbers of the specification):
- the 8-byte signature (5.2); every chunk's length <= 2^31 - 1 and its CRC-32 over type + data (5.3);
- IHDR first, 13 bytes (11.2.2): width and height in 1..`MAX_SIDE`, bit depth 8 with colour type 0 (grey),
  2 (RGB), 4 (grey + alpha) or 6 (RGBA) (palette and 16-bit images are refused: re-save them), compression
  method 0, filter method 0, interlace method 0 (Adam7 is refused);
- IDAT chunks consecutive; IEND last, empty (11.2.5); critical chunks other than these refused (5.4);
- the zlib stream decompresses to exactly height x (1 + width x channels) bytes, no more (bounded while it
  inflates, so a compression bomb stops at the expected size), and ends;
- every row's filter type is 0..4 (9.2: None, Sub, Up, Average, Paeth), undone per 9.3 (Paeth per 9.4).
Colour becomes grey as 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), rounded; alpha is dropped.
"""
import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 16384  # pixels per side: far above any image a classifier takes, far below a memory blow-up
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit only)
MAX_CHUNK = 2**31 - 1


class BadPNG(ValueError):
    """Not a PNG this decoder reads; the message says what is wrong."""


class Unsupported(BadPNG):
    """A sound PNG of a kind this decoder does not read (palette, 16-bit, interlaced); the message says how to
    re-save it."""


def _chunks(data):
    """[(type, body)] of every chunk, CRCs checked, IEND last."""
    pos, chunks = len(SIGNATURE), []
    while True:
        if pos + 8 > len(data):
            raise BadPNG("truncated: it ends without an IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if length > MAX_CHUNK or pos + 12 + length > len(data):
            raise BadPNG(f"chunk {kind!r} claims {length} bytes, past the end of the file")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise BadPNG(f"chunk {kind!r} fails its CRC check (the file is damaged)")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            if body or pos != len(data):
                raise BadPNG("data after or inside the IEND chunk")
            return chunks


def _header(chunks):
    kind, body = chunks[0]
    if kind != b"IHDR" or len(body) != 13:
        raise BadPNG("the first chunk is not a 13-byte IHDR")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise BadPNG(f"size {width}x{height}: each side must be 1..{MAX_SIDE} pixels")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise BadPNG(f"compression {compression}, filter method {filtering}, interlace {interlace}: "
                     "the specification defines 0, 0 and 0/1 only")
    if depth != 8 or colour not in CHANNELS or interlace:
        raise Unsupported("only 8-bit non-interlaced grey/RGB(A) PNGs are supported; re-save it as such "
                     "(e.g. `convert in.png -depth 8 -interlace none out.png`)")
    return width, height, CHANNELS[colour]


def _idat(chunks):
    kinds = [kind for kind, _ in chunks]
    if b"IDAT" not in kinds:
        raise BadPNG("no IDAT chunk")
    first = kinds.index(b"IDAT")
    last = len(kinds) - 1 - kinds[::-1].index(b"IDAT")
    if any(kind != b"IDAT" for kind in kinds[first:last + 1]):
        raise BadPNG("the IDAT chunks are not consecutive")
    for kind in kinds[1:-1]:
        if kind[0] < 97 and kind not in (b"IDAT", b"PLTE"):  # upper-case first letter: critical (5.4)
            raise BadPNG(f"unknown critical chunk {kind!r}")
    return b"".join(body for kind, body in chunks if kind == b"IDAT")


def _inflate(stream, size):
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(stream, size + 1)
        raw += inflater.flush() if len(raw) <= size and not inflater.unconsumed_tail else b""
    except zlib.error as error:
        raise BadPNG(f"its image data is not a valid zlib stream ({error})") from None
    if len(raw) != size or not inflater.eof:
        raise BadPNG(f"its image data holds {'more than ' if len(raw) > size else ''}{len(raw)} bytes, "
                     f"not the {size} its size and colour type need")
    return raw


def _unfilter(raw, height, stride, channels):
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + stride)
    bad = rows[:, 0][rows[:, 0] > 4]
    if bad.size:
        raise BadPNG(f"row filter type {int(bad[0])}: the specification defines 0..4 only")
    img = np.zeros((height, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for r in range(height):
        kind, line = rows[r, 0], rows[r, 1:].astype(np.int32)
        if kind in (0, 2):
            cur = (line + prev * (kind == 2)) & 255
        else:  # Sub, Average, Paeth depend on the left neighbour: decode byte by byte
            cur = np.zeros_like(line)
            for i in range(stride):
                a = cur[i - channels] if i >= channels else 0
                b, c = prev[i], (prev[i - channels] if i >= channels else 0)
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 255
        img[r], prev = cur, cur
    return img


def decode(data):
    """An 8-bit PNG's bytes -> (H, W) uint8 grey image (see the module docstring); BadPNG otherwise."""
    if data[:8] != SIGNATURE:
        raise BadPNG("not a PNG file (no PNG signature)")
    chunks = _chunks(data)
    width, height, channels = _header(chunks)
    raw = _inflate(_idat(chunks), height * (1 + width * channels))
    img = _unfilter(raw, height, width * channels, channels).reshape(height, width, channels)
    if channels >= 3:
        img = np.rint(img[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None]
    return img[..., 0].astype(np.uint8)
