"""Image files for the codec tests: real photos in every form the service takes, written by
Pillow (not by our encoder), and hostile files with the words their refusal must hold."""
from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image
from skimage import data

from ops.codec import MAX_JPEG_SCANS

PHOTOS = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


def pil_file(img: np.ndarray | Image.Image, fmt: str, **kw) -> bytes:
    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    pil.save(buf, fmt, **kw)
    return buf.getvalue()


def cv_reference(f: bytes) -> np.ndarray:
    """What the CPU path must equal: OpenCV's decode in BGR, swapped to RGB."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def jpeg_sampling(f: bytes) -> list[tuple[int, int]]:
    """Each component's (horizontal, vertical) sampling factors in a JPEG's frame header, read
    by Pillow: [(2, 2), (1, 1), (1, 1)] is 4:2:0, [(1, 1)] one gray component."""
    return [(h, v) for _, h, v, _ in Image.open(io.BytesIO(f)).layer]


def _files() -> dict[str, bytes]:
    """Real photos in every form the service takes (Pillow writes them: not our encoder)."""
    out = {}
    for name, img in PHOTOS.items():
        for q in (30, 75, 95):
            out[f"{name}-jpeg-q{q}"] = pil_file(img, "JPEG", quality=q)
        out[f"{name}-jpeg-progressive"] = pil_file(img, "JPEG", quality=85, progressive=True)
        out[f"{name}-jpeg-444"] = pil_file(img, "JPEG", quality=90, subsampling=0)
    img = PHOTOS["chelsea"]
    out["png-rgb"] = pil_file(img, "PNG")
    out["png-rgba"] = pil_file(np.dstack([img, img[..., 1]]), "PNG")
    out["png-gray"] = pil_file(img[..., 0], "PNG")
    out["png-gray-alpha"] = pil_file(Image.fromarray(img[..., 0]).convert("LA"), "PNG")
    out["png-palette"] = pil_file(Image.fromarray(img).convert("P"), "PNG")
    out["png-1bit"] = pil_file(Image.fromarray(img[..., 0] > 128), "PNG")
    out["png-16bit"] = cv2.imencode(".png", img[..., ::-1].astype(np.uint16) * 257 + 3)[1].tobytes()
    out["jpeg-gray"] = pil_file(img[..., 0], "JPEG", quality=90)
    out["jpeg-cmyk"] = pil_file(Image.fromarray(img).convert("CMYK"), "JPEG", quality=90)
    out["webp-lossy"] = pil_file(img, "WEBP", quality=80)
    out["webp-lossless"] = pil_file(img, "WEBP", lossless=True)
    out["webp-alpha"] = pil_file(np.dstack([img, img[..., 1]]), "WEBP", quality=80)
    return out


FILES = _files()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_header(w: int, h: int, bits: int = 8, color: int = 2, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, bits, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", idat or zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def jpeg_with_frame(w: int, h: int, scans: int = 1, comment: bytes = b"") -> bytes:
    """A real small JPEG whose SOF0 declares another size, optionally with many SOS markers
    and a comment segment right after the frame header."""
    f = bytearray(pil_file(PHOTOS["astronaut"][:16, :16], "JPEG", quality=90))
    i = f.index(b"\xff\xc0")
    f[i + 5:i + 9] = struct.pack(">HH", h, w)
    if scans > 1:
        eoi = len(f) - 2
        f[eoi:eoi] = b"\xff\xda\x00\x02" * (scans - 1)
    if comment:
        after = i + 2 + struct.unpack_from(">H", f, i + 2)[0]
        f[after:after] = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return bytes(f)


def jpeg_segments(n: int) -> bytes:
    """A real small JPEG with n empty comment segments before its frame header."""
    f = pil_file(PHOTOS["astronaut"][:16, :16], "JPEG", quality=90)
    return f[:2] + b"\xff\xfe\x00\x02" * n + f[2:]


# A PNG whose header is fine and whose data is not: only the decoder finds it out.
CORRUPT_PNG = (FILES["png-rgb"][:2000] + bytes(b ^ 0x5A for b in FILES["png-rgb"][2000:4000])
               + FILES["png-rgb"][4000:])

HOSTILE = {
    "empty": (b"", "empty file"),
    "text": (b"hello, this is not an image at all", "not a JPEG, PNG or WebP"),
    "gif": (b"GIF89a" + bytes(40), "not a JPEG, PNG or WebP file: a GIF"),
    "heic": (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(40), "brand 'heic'"),
    "bmp": (cv2.imencode(".bmp", np.zeros((4, 4, 3), np.uint8))[1].tobytes(), "a BMP"),
    "jpeg truncated": (FILES["astronaut-jpeg-q75"][:5000], "truncated JPEG"),
    "jpeg head only": (FILES["astronaut-jpeg-q75"][:20], "truncated JPEG"),
    "png truncated": (FILES["png-rgb"][:5000], "truncated PNG"),
    "webp truncated": (FILES["webp-lossy"][:5000], "truncated WebP"),
    "png corrupt data": (CORRUPT_PNG, "corrupt PNG"),
    "jpeg without frame": (b"\xff\xd8\xff\xda\x00\x02" + bytes(32) + b"\xff\xd9", "corrupt JPEG"),
    "jpeg DNL height": (jpeg_with_frame(16, 0), "DNL"),
    "png zero width": (png_with_header(0, 5), "corrupt PNG"),
    "png bad colour type": (png_with_header(4, 4, color=5), "corrupt PNG"),
    "jpeg too many scans": (jpeg_with_frame(16, 16, MAX_JPEG_SCANS + 1), "scans"),
    # A comment may hold any bytes: FF D9 there is not the end (nor FF DA a scan).
    "jpeg too many scans behind an FF D9 comment": (
        jpeg_with_frame(16, 16, MAX_JPEG_SCANS + 1, comment=b"\xff\xd9\xff\xda"), "scans"),
    "jpeg truncated behind an FF D9 comment": (
        jpeg_with_frame(16, 16, comment=b"\xff\xd9")[:-300], "truncated JPEG"),
    "jpeg of 100000 segments": (jpeg_segments(100_000), "segments"),
}


