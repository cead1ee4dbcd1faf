"""The container format of neural-codec bitstreams: header, varints, CRC, strings.

Why a module of its own: it is the on-disk contract (what ``decode`` must accept and
reject), independent of torch and of any network, so it can be read, tested and
versioned without the codec machinery in :mod:`lossybench.kits.neural_codec`.

``encode`` serialises the rANS strings and latent shape ``compress`` returned into one
byte string, so that bpp is ``8 × len(bytes) / pixels`` like every other codec. The
header carries a CRC-32 of everything after it; :func:`unpack_bitstream` checks magic,
version, codec tag, sizes and the CRC *before* anything reaches the C++ decoder, which
may crash or loop on corrupt input. Every failure is a
:class:`~lossybench.errors.CodecError`.

Bitstream layout (version 1), all integers unsigned LEB128 varints unless noted::

    b"LBNC"            magic (4 bytes)
    version            1 byte (= 1)
    crc32              4 bytes big-endian, of every byte after this field
    tag                2 bytes big-endian: CRC-32 of the codec name, low 16 bits
    level              varint: the quality level (knob value)
    height, width      varints: the original image size
    shape_h, shape_w   varints: the latent shape ``compress`` returned
    groups             varint: number of string groups (1 factorized, 2 hyperprior)
    for each group:    varint length, then that many bytes of rANS string
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from lossybench.errors import CodecError
from lossybench.image import MAX_PIXELS

MAGIC = b"LBNC"
FORMAT_VERSION = 1
#: Fixed part of the header: magic, version, CRC-32, codec tag.
FIXED_HEADER = len(MAGIC) + 1 + 4 + 2
MAX_GROUPS = 8


@dataclass(frozen=True)
class Bitstream:
    """A parsed bitstream: what ``decompress`` needs plus the original image size."""

    level: int
    height: int
    width: int
    shape: tuple[int, int]
    strings: tuple[bytes, ...]


def codec_tag(name: str) -> int:
    """16-bit fingerprint of the codec name: catches decoding with the wrong codec."""
    return zlib.crc32(name.encode()) & 0xFFFF


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class _Reader:
    """Bounds-checked reading of a byte string; every overrun is a CodecError."""

    def __init__(self, data: bytes, pos: int, what: str) -> None:
        self.data, self.pos, self.what = data, pos, what

    def varint(self, field: str) -> int:
        n = shift = 0
        for _ in range(10):  # 70 bits: far above any legal value
            if self.pos >= len(self.data):
                raise CodecError(f"{self.what}: bitstream truncated while reading {field}")
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
        raise CodecError(f"{self.what}: corrupt bitstream ({field} is not a valid varint)")

    def take(self, n: int, field: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise CodecError(
                f"{self.what}: bitstream truncated: {field} needs {n} bytes, "
                f"{len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def pack_bitstream(name: str, bs: Bitstream) -> bytes:
    """Serialise ``bs`` with the header documented in the module docstring."""
    body = bytearray(struct.pack(">H", codec_tag(name)))
    for v in (bs.level, bs.height, bs.width, *bs.shape, len(bs.strings)):
        body += _varint(int(v))
    for s in bs.strings:
        body += _varint(len(s))
        body += s
    crc = zlib.crc32(bytes(body)) & 0xFFFFFFFF
    return MAGIC + bytes([FORMAT_VERSION]) + struct.pack(">I", crc) + bytes(body)


def unpack_bitstream(name: str, data: bytes) -> Bitstream:
    """Parse and validate a bitstream; raise CodecError on anything inconsistent."""
    what = name
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError(f"{what}: bitstream must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < FIXED_HEADER:
        raise CodecError(f"{what}: bitstream truncated ({len(data)} bytes, less than a header)")
    if data[:4] != MAGIC:
        raise CodecError(f"{what}: not a lossybench neural bitstream (bad magic {data[:4]!r})")
    if data[4] != FORMAT_VERSION:
        raise CodecError(
            f"{what}: bitstream format version {data[4]} is not supported (this lossybench "
            f"reads version {FORMAT_VERSION})"
        )
    (crc,) = struct.unpack(">I", data[5:9])
    if zlib.crc32(data[9:]) & 0xFFFFFFFF != crc:
        raise CodecError(f"{what}: corrupt or truncated bitstream (CRC-32 mismatch)")
    (tag,) = struct.unpack(">H", data[9:11])
    if tag != codec_tag(name):
        raise CodecError(f"{what}: this bitstream was written by another codec (tag {tag:#06x})")
    r = _Reader(data, FIXED_HEADER, what)
    level = r.varint("level")
    height, width = r.varint("height"), r.varint("width")
    if min(height, width) < 1 or height * width > MAX_PIXELS:
        raise CodecError(f"{what}: corrupt bitstream (image size {width}x{height})")
    shape = (r.varint("latent height"), r.varint("latent width"))
    groups = r.varint("string groups")
    if not 1 <= groups <= MAX_GROUPS:
        raise CodecError(f"{what}: corrupt bitstream ({groups} string groups)")
    strings = tuple(r.take(r.varint(f"length of string {i}"), f"string {i}") for i in range(groups))
    if r.pos != len(data):
        raise CodecError(f"{what}: corrupt bitstream ({len(data) - r.pos} trailing bytes)")
    return Bitstream(level, height, width, shape, strings)
