"""Image files' headers, read byte by byte: format, size, channels, bit depth and EXIF
orientation of JPEG, PNG and WebP files without decoding a pixel (ops.codec.probe)."""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import is_cupy

FORMATS = ("jpeg", "png", "webp")
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
# A progressive JPEG has about 10 scans; each scan walks the whole image's coefficients
# again, so a crafted file of thousands of tiny scans costs seconds to decode.
MAX_JPEG_SCANS = 100

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Formats refused by name, so that the message says what the file is.
_OTHER_FORMATS = ((b"GIF8", "a GIF"), (b"BM", "a BMP"), (b"II*\0", "a TIFF"), (b"MM\0*", "a TIFF"),
                  (b"%PDF", "a PDF"), (b"\0\0\0\x0cjP  ", "a JPEG 2000"))
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# FF (and fill FFs), then a marker code: anything but 00 (a stuffed FF in entropy-coded
# data), RST0-7 (restart markers inside it) and FF.
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")
# A photo has a few dozen segments (APPn, DQT, DHT, SOF, SOS; a progressive one a DHT per
# scan); walking millions of 4-byte comments would cost seconds of Python.
MAX_JPEG_SEGMENTS = 1000
# JPEG start-of-frame markers (SOF0..SOF15 less DHT C4, JPG C8 and DAC CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class CodecError(ValueError):
    """A file that is not a decodable JPEG, PNG or WebP image; the message says why."""


@dataclass(frozen=True)
class FileInfo:
    """What a file's header declares: format, size before EXIF rotation, colour channels
    (1 gray, 3 colour, 4 CMYK or with alpha), bits per sample, EXIF orientation (1-8; 1
    when absent or unread)."""
    format: str
    height: int
    width: int
    channels: int
    bits: int
    orientation: int = 1

    @property
    def upright(self) -> tuple[int, int]:
        """(H, W) of the decoded image: orientations 5-8 turn it by 90 degrees."""
        return (self.width, self.height) if self.orientation >= 5 else (self.height, self.width)


def file_bytes(data: Any) -> bytes:
    """A file (bytes, or a 1-D uint8 NumPy or CuPy array) as host bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    # A file in device memory (a client's CUDA shared memory) is read back: decoders read host bytes.
    arr = data.get() if is_cupy(data) else np.asarray(data)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise CodecError(f"expected a file as a 1-D uint8 array, got dtype {arr.dtype} shape "
                         f"{tuple(arr.shape)}")
    return arr.tobytes()


def sniff(data: Any) -> str | None:
    """The format a file's first bytes declare.

    OpenCV: none (``cv2.haveImageReader`` reads a path); like ``imghdr.what``.

    Args:
        data: bytes or a 1-D uint8 array (NumPy or CuPy).
    Returns:
        "jpeg", "png", "webp", or None.
    Raises:
        CodecError: data is an array of another dtype or rank.
    """
    head = file_bytes(data[:12])
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == _PNG_SIGNATURE:
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def probe(data: Any, max_side: int | None = None) -> FileInfo:
    """A file's header -> FileInfo, reading only headers and markers (no pixel is decoded).

    Data after the image's end is allowed: zero padding (files of one request padded to one
    length), or what phones append (a motion photo's video, a maker's trailer). OpenCV: none
    (``cv2.imdecode`` decodes to learn the size); like PIL's ``Image.open`` without ``load``.

    Args:
        data: bytes or a 1-D uint8 array (NumPy or CuPy).
        max_side: also refuse a header declaring a larger side (a decompression bomb).
    Returns:
        FileInfo: format, height, width, channels, bits, EXIF orientation.
    Raises:
        CodecError: empty, not a JPEG/PNG/WebP (naming the format when it is known), a
        truncated or corrupt header, a missing end marker (a truncated upload), too many JPEG
        scans or segments, or a side over max_side.
    """
    b = file_bytes(data)
    if not b:
        raise CodecError("empty file (0 bytes)")
    end = len(b.rstrip(b"\x00"))
    fmt = sniff(b)
    if fmt is None:
        other = next((name for magic, name in _OTHER_FORMATS if b.startswith(magic)), None)
        if b[4:8] == b"ftyp":  # ISO media: HEIC (iPhone photos), AVIF, or a video
            other = f"an ISO media file (brand {b[8:12].decode('latin-1')!r}: HEIC, AVIF or video)"
        raise CodecError("not a JPEG, PNG or WebP file: " + (
            f"{other}, which the service does not decode; convert it to JPEG" if other
            else f"it starts with {b[:8]!r}"))
    if end < 16:
        raise CodecError(f"truncated {fmt.upper()} file ({end} bytes)")
    info = {"jpeg": _probe_jpeg, "png": _probe_png, "webp": _probe_webp}[fmt](b, end)
    if max_side is not None and max(info.height, info.width) > max_side:
        raise CodecError(f"the {fmt.upper()} header declares {info.width}x{info.height}, over "
                         f"the size limit of {max_side}x{max_side}")
    return info


def _probe_jpeg(b: bytes, end: int) -> FileInfo:
    """Walks the markers: each segment skipped by its length, each scan's entropy-coded data
    up to the next marker (FF then anything but 00, an RSTn or FF), up to the end-of-image
    marker. Segments hold any bytes, so FF D9 or FF DA inside one (a comment) is not taken
    for a marker; data after the end marker is not read."""
    pos, info, scans, orientation = 2, None, 0, 1
    for _ in range(MAX_JPEG_SEGMENTS):
        m = _JPEG_MARKER.match(b, pos)
        if m is None:
            if pos >= end:
                raise CodecError("truncated JPEG: no end-of-image marker (the upload was cut "
                                 "short?)")
            raise CodecError(f"corrupt JPEG: no marker at byte {pos}")
        code, pos = m.group(1)[0], m.end()
        if code == 0xD9:
            if info is None:
                raise CodecError("corrupt JPEG: no frame header (SOF marker)")
            return FileInfo(info.format, info.height, info.width, info.channels, info.bits,
                             orientation)
        if code == 0x01:
            continue
        if pos + 2 > end:
            raise CodecError("truncated JPEG: the file ends inside a marker")
        (length,) = struct.unpack_from(">H", b, pos)
        if length < 2 or pos + length > end:
            raise CodecError(f"truncated JPEG: a segment at byte {pos - 2} runs past the file's end")
        body = b[pos + 2:pos + length]
        pos += length
        if code in _SOF:
            if info is not None or length < 8:
                raise CodecError("corrupt JPEG: a second or short frame header")
            bits, h, w, nc = struct.unpack_from(">BHHB", body)
            if h == 0:
                raise CodecError("unsupported JPEG: the height is defined after the image data "
                                 "(DNL marker)")
            if w == 0 or nc not in (1, 3, 4):
                raise CodecError(f"corrupt JPEG: frame header declares {w}x{h} with {nc} "
                                 f"components")
            info = FileInfo("jpeg", h, w, nc, bits)
        elif code == 0xE1 and body.startswith(b"Exif\0\0") and info is None:
            orientation = _exif_orientation(body[6:])
        elif code == 0xDA:
            if info is None:
                raise CodecError("corrupt JPEG: image data before its frame header (no SOF marker)")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise CodecError(f"JPEG with more than {MAX_JPEG_SCANS} scans (a progressive "
                                 f"JPEG has about 10)")
            nxt = _JPEG_MARKER.search(b, pos)
            if nxt is None:
                raise CodecError("truncated JPEG: no end-of-image marker (the upload was cut "
                                 "short?)")
            pos = nxt.start()
    raise CodecError(f"JPEG with more than {MAX_JPEG_SEGMENTS} segments (a photo has a few dozen)")


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag (1-8) of an EXIF TIFF block; 1 when it is missing or unreadable
    (EXIF is never a reason to refuse a file)."""
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for k in range(min(count, 512)):
            tag, kind, _, value = struct.unpack_from(order + "HHIH", tiff, ifd + 2 + 12 * k)
            if tag == 0x0112 and kind == 3:
                return value if 1 <= value <= 8 else 1
    except (KeyError, struct.error):
        pass
    return 1


def _probe_png(b: bytes, end: int) -> FileInfo:
    if end < 33 or b[12:16] != b"IHDR":
        raise CodecError("corrupt PNG: no IHDR chunk after the signature")
    w, h, bits, color = struct.unpack_from(">IIBB", b, 16)
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color)
    if w == 0 or h == 0 or channels is None or bits not in (1, 2, 4, 8, 16):
        raise CodecError(f"corrupt PNG: header declares {w}x{h}, bit depth {bits}, colour type "
                         f"{color}")
    if _PNG_IEND not in b:
        raise CodecError("truncated PNG: no IEND chunk (the upload was cut short?)")
    return FileInfo("png", h, w, channels, bits, _png_orientation(b))


def _png_orientation(b: bytes) -> int:
    """The EXIF orientation of an eXIf chunk before the image data (the chunks walked by
    their lengths, at most 64 of them); 1 without one."""
    pos = 8
    for _ in range(64):
        if pos + 8 > len(b):
            break
        length, kind = struct.unpack_from(">I4s", b, pos)
        if kind == b"eXIf":
            return _exif_orientation(b[pos + 8:pos + 8 + length])
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return 1


def _probe_webp(b: bytes, end: int) -> FileInfo:
    (riff,) = struct.unpack_from("<I", b, 4)
    if riff + 8 > len(b):
        raise CodecError(f"truncated WebP: the RIFF header declares {riff + 8} bytes, the file "
                         f"has {len(b)}")
    if len(b) < 30:
        raise CodecError("truncated WebP: no image chunk")
    chunk = b[12:16]
    if chunk == b"VP8 ":
        if b[23:26] != b"\x9d\x01\x2a":
            raise CodecError("corrupt WebP: bad VP8 frame start code")
        w, h = struct.unpack_from("<HH", b, 26)
        w, h, channels = w & 0x3FFF, h & 0x3FFF, 3
    elif chunk == b"VP8L":
        if b[20] != 0x2F:
            raise CodecError("corrupt WebP: bad VP8L signature")
        (v,) = struct.unpack_from("<I", b, 21)
        w, h, channels = (v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1, 4 if v >> 28 & 1 else 3
    elif chunk == b"VP8X":
        w = int.from_bytes(b[24:27], "little") + 1
        h = int.from_bytes(b[27:30], "little") + 1
        channels = 4 if b[20] & 0x10 else 3
    else:
        raise CodecError(f"corrupt WebP: unknown first chunk {chunk!r}")
    if w == 0 or h == 0:
        raise CodecError(f"corrupt WebP: header declares {w}x{h}")
    return FileInfo("webp", h, w, channels, 8)
