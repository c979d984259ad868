"""The server command and the blur client, as a user runs them."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from clients.api import BlurClient, RequestRefused
from ops.codec import sniff
from tests import reference
from serving.server import free_port
from tests.codec_cases import pil_file
from tests.helpers import cpu_instances, infer

from serving.paths import REPO_ROOT as ROOT
pytestmark = pytest.mark.server


def test_server_command_names_what_is_missing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "serving.server", "--model-repository",
                        str(tmp_path / "nope")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_missing_model_names_the_build_command(tmp_path, monkeypatch):
    from serving.server import embedded as srv
    monkeypatch.setattr(srv, "REQUIRED_FILES", {tmp_path / "model.onnx": "python -m segmentation.build"})
    with pytest.raises(srv.ServerError, match="python -m segmentation.build"):
        srv.check_files()


def blur_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clients.blur", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_blur_cli_raw_on_files_and_folders(server, tmp_path, runner):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    imgs = {"a": data.astronaut()[::2, ::2], "b": data.coffee()[:200, :300]}
    Image.fromarray(imgs["a"]).save(src / "a.png")
    Image.fromarray(imgs["b"]).save(src / "sub" / "b.jpg", quality=95)
    out = tmp_path / "out"
    r = blur_cli(str(src), "--out", str(out), "--url", server.grpc_url, "--protocol", "grpc",
                 "--mask", "--sigma", "5", "--raw")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "wrote 2 image(s)" in r.stdout
    got = np.asarray(Image.open(out / "a.png"))
    ref, ref_mask = reference.background_blur(np.ascontiguousarray(imgs["a"]), runner, sigma=5.0)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.asarray(Image.open(out / "a_mask.png")), ref_mask)
    assert (out / "b.png").exists()


def test_blur_cli_errors(tmp_path):
    r = blur_cli(str(tmp_path / "nope.png"), "--out", str(tmp_path))
    assert r.returncode == 2 and "no such file" in r.stderr
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    for bad in (["--raw", "--format", "png"], ["--raw", "--quality", "80"], ["--quality", "0"]):
        r = blur_cli(str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), *bad)
        assert r.returncode == 2 and ("--raw" in r.stderr or "1..100" in r.stderr), (bad, r.stderr)
    # A server nobody runs: one line saying so, no traceback.
    port = free_port()
    r = blur_cli(str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--url", f"127.0.0.1:{port}")
    assert r.returncode == 1 and f"the server at 127.0.0.1:{port} failed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


# --- Files in, files out: background_blur_encoded against raw pixels through background_blur.

def cv_decode(data: bytes) -> np.ndarray:
    """A file's pixels as OpenCV decodes them: RGB for a colour file, (H, W) for a mask."""
    import cv2
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None, data[:16]
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def cv_encode(rgb: np.ndarray, fmt: str, quality: int = 90) -> bytes:
    """What the server's encode step writes (docs: cv2.imencode with the quality flag)."""
    import cv2
    flags = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality], "webp": [cv2.IMWRITE_WEBP_QUALITY, quality]}[fmt]
    ok, buf = cv2.imencode({"jpeg": ".jpg", "webp": ".webp"}[fmt], cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), flags)
    assert ok
    return buf.tobytes()


def raw_reference(server, data: bytes, **parameters) -> tuple[np.ndarray, np.ndarray]:
    """(blurred, mask) pixels of a file decoded by OpenCV and sent as raw pixels to
    background_blur, independently of clients.api."""
    r = infer(server.http_url, "http", "background_blur", {"IMAGE": cv_decode(data)[None]},
              parameters=parameters or None)
    return r["BLURRED"][0], r["MASK"][0]


def photo_file(fmt: str, image: np.ndarray | None = None) -> bytes:
    """A file of ``fmt`` written by Pillow (quality 92 for JPEG and WebP); the astronaut at
    256x256 unless ``image``."""
    image = data.astronaut()[::2, ::2] if image is None else image
    return pil_file(image, fmt.upper(), **({} if fmt == "png" else {"quality": 92}))


@cpu_instances  # OpenCV's codecs, byte for byte; a GPU server's are nvImageCodec's
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_blur_file_equals_raw_pixels_through_background_blur(server, protocol):
    jpg = photo_file("jpeg")
    ref, ref_mask = raw_reference(server, jpg, sigma=5.0)
    with BlurClient(server.http_url if protocol == "http" else server.grpc_url, protocol) as c:
        # PNG out is lossless: the very pixels of background_blur, and the mask too.
        png, mask = c.blur_file(jpg, mask=True, format="png", sigma=5.0)
        assert sniff(png) == "png" and sniff(mask) == "png"
        np.testing.assert_array_equal(cv_decode(png), ref)
        np.testing.assert_array_equal(cv_decode(mask), ref_mask)
        # By default the input's format at quality 90; quality and format as asked.
        out = c.blur_file(jpg, sigma=5.0)
        assert isinstance(out, bytes) and out == cv_encode(ref, "jpeg", 90)
        assert c.blur_file(jpg, sigma=5.0, quality=50) == cv_encode(ref, "jpeg", 50)
        assert c.blur_file(bytearray(jpg), sigma=5.0, format="webp") == cv_encode(ref, "webp", 90)
        # A PNG in comes back a PNG; a WebP a WebP.
        src = np.ascontiguousarray(data.coffee()[:120, :160])
        png_src = photo_file("png", src)
        np.testing.assert_array_equal(cv_decode(c.blur_file(png_src)), raw_reference(server, png_src)[0])
        assert sniff(c.blur_file(photo_file("webp", src))) == "webp"


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_api_keeps_requests_in_flight_and_answers_in_order(server, protocol):
    """blur_files and blur_many with 3 requests in flight: each result is the one a lone
    request gets, in the inputs' order, and a file the server refuses is that file's
    RequestRefused while the others are answered."""
    address = server.http_url if protocol == "http" else server.grpc_url
    photos = [np.ascontiguousarray(data.astronaut()[::4, ::4][: 64 + 8 * i]) for i in range(7)]
    files = [photo_file("jpeg", p) for p in photos]
    files[4] = files[4][:2000]  # truncated: refused
    with BlurClient(address, protocol, concurrency=3) as c:
        alone = []
        for f in files:
            try:
                alone.append(c.blur_file(f, sigma=5.0))
            except RequestRefused as e:
                alone.append(e)
        got = list(c.blur_files(iter(files), sigma=5.0))
        assert [data_ for data_, _ in got] == files
        for (_, out), ref in zip(got, alone):
            if isinstance(ref, RequestRefused):
                assert isinstance(out, RequestRefused) and "truncated JPEG" in out.message()
            else:
                assert out == ref
        many = list(c.blur_many(photos, sigma=5.0))
        assert [img is p for (img, _), p in zip(many, photos)] == [True] * len(photos)
        for (img, (blurred, mask)), f in zip(many, photos):
            ref_blurred, ref_mask = c.blur(img, sigma=5.0)
            np.testing.assert_array_equal(blurred, ref_blurred)
            np.testing.assert_array_equal(mask, ref_mask)
    with pytest.raises(ValueError, match="concurrency"):
        BlurClient(address, protocol, concurrency=0)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_api_connections_are_reused_across_calls_and_threads(server, protocol):
    """A long-lived client calling blur_many again and again keeps one connection per thread
    that ever used it (the constructor's, then its concurrency threads, which every call
    reuses) instead of new ones per call, and closes them all."""
    address = server.http_url if protocol == "http" else server.grpc_url
    photos = [np.ascontiguousarray(data.astronaut()[::8, ::8])] * 6
    with BlurClient(address, protocol, concurrency=3) as c:
        for _ in range(4):
            assert len(list(c.blur_many(photos))) == len(photos)
        opened = list(c._clients)
        assert 1 <= len(opened) <= 1 + 3
    assert c._clients == []


def test_blur_file_refusals(server):
    with BlurClient(server.grpc_url, "grpc", timeout=60) as c:
        with pytest.raises(ValueError, match="empty file"):
            c.blur_file(b"")
        with pytest.raises(ValueError, match="the file's bytes"):
            c.blur_file(np.zeros(10, np.uint8))
        with pytest.raises(RequestRefused, match="not a JPEG, PNG or WebP file") as e:
            c.blur_file(b"BM" + bytes(100))
        assert isinstance(e.value, ValueError) and "INVALID_ARGUMENT" in e.value.status()
        jpg = photo_file("jpeg")
        with pytest.raises(RequestRefused, match="truncated JPEG"):
            c.blur_file(jpg[: len(jpg) // 2])
        with pytest.raises(RequestRefused, match="quality"):
            c.blur_file(jpg, quality=0)
        with pytest.raises(RequestRefused, match="sigma"):
            c.blur(np.zeros((8, 8, 3), np.uint8), sigma=1e9)
    with BlurClient(server.http_url, "http") as c, pytest.raises(RequestRefused, match="format"):
        c.blur_file(jpg, format="gif")


@cpu_instances
def test_blur_cli_sends_files_as_they_are(server, tmp_path):
    """A folder of mixed files: JPEG, PNG and WebP come back in their own format and
    extension, what the server cannot take is skipped with a warning and exit status 1."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    coffee = np.ascontiguousarray(data.coffee()[:120, :160])
    files = {"a.jpg": photo_file("jpeg"), "sub/b.png": photo_file("png", coffee),
             "c.webp": photo_file("webp", coffee), "e.jpg": photo_file("jpeg")[:3000],
             "sub/a.webp": photo_file("webp", coffee)}  # its a_mask.png would overwrite a.jpg's
    for name, content in files.items():
        (src / name).write_bytes(content)
    Image.fromarray(coffee).save(src / "d.bmp")
    Image.fromarray(coffee).save(src / "sub" / "f.tiff")
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    r = blur_cli(str(src), "--out", str(out), "--url", server.grpc_url, "--protocol", "grpc",
                 "--mask", "--sigma", "5")
    assert r.returncode == 1, r.stderr[-2000:]
    assert "wrote 3 image(s)" in r.stdout and "skipped 4 file(s)" in r.stderr
    assert "Traceback" not in r.stderr
    for name in ("d.bmp", "f.tiff"):
        line = next(ln for ln in r.stderr.splitlines() if name in ln)
        assert "not a JPEG, PNG or WebP file" in line and "--raw" in line, line
    assert "e.jpg: skipped: the server refused it" in r.stderr and "truncated JPEG" in r.stderr
    assert f"a.webp: skipped: its output would overwrite that of {src / 'a.jpg'}" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "a.jpg", "a_mask.png", "b.png", "b_mask.png", "c.webp", "c_mask.png"]
    ref, ref_mask = raw_reference(server, files["a.jpg"], sigma=5.0)
    assert (out / "a.jpg").read_bytes() == cv_encode(ref, "jpeg", 90)
    np.testing.assert_array_equal(cv_decode((out / "a_mask.png").read_bytes()), ref_mask)
    np.testing.assert_array_equal(cv_decode((out / "b.png").read_bytes()),
                                  raw_reference(server, files["sub/b.png"], sigma=5.0)[0])
    assert sniff((out / "c.webp").read_bytes()) == "webp"


def test_blur_cli_format_and_quality(server, tmp_path):
    jpg, png = photo_file("jpeg"), photo_file("png", np.ascontiguousarray(data.coffee()[:120, :160]))
    (tmp_path / "a.jpg").write_bytes(jpg)
    (tmp_path / "b.PNG").write_bytes(png)
    args = [str(tmp_path / "a.jpg"), str(tmp_path / "b.PNG"), "--url", server.http_url]
    # PNG out: exactly the pixels of background_blur; the extension follows the format.
    r = blur_cli(*args, "--out", str(tmp_path / "png"), "--format", "png")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["a.png", "b.PNG"]
    np.testing.assert_array_equal(cv_decode((tmp_path / "png" / "a.png").read_bytes()),
                                  raw_reference(server, jpg)[0])
    # JPEG at quality 50, a PNG input too.
    r = blur_cli(*args, "--out", str(tmp_path / "jpeg"), "--format", "jpeg", "--quality", "50")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "jpeg").iterdir()) == ["a.jpg", "b.jpg"]
    assert (tmp_path / "jpeg" / "b.jpg").read_bytes() == cv_encode(raw_reference(server, png)[0], "jpeg", 50)
    r = blur_cli(*args, "--out", str(tmp_path / "webp"), "--format", "webp")
    assert r.returncode == 0, r.stderr[-2000:]
    assert [sniff(p.read_bytes()) for p in sorted((tmp_path / "webp").iterdir())] == ["webp", "webp"]


def test_api_http_and_validation(server, runner):
    img = np.ascontiguousarray(data.astronaut()[100:300, 100:400])
    with BlurClient(server.http_url, "http") as c:
        blurred, mask = c.blur(img)
        with pytest.raises(ValueError, match="image: expected an \\(H, W, 3\\) uint8"):
            c.blur(img.astype(np.float32))
    ref, ref_mask = reference.background_blur(img, runner)
    np.testing.assert_array_equal(blurred, ref)
    with pytest.raises(ValueError, match="protocol"):
        BlurClient(server.http_url, "udp")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_api_timeout_ends_a_request_nobody_answers(protocol):
    """A server that accepts the connection and never answers: the request fails after the
    client's timeout instead of waiting forever (gRPC has no timeout by default)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"127.0.0.1:{silent.getsockname()[1]}"
        t0 = time.monotonic()
        with pytest.raises(Exception) as e:
            with BlurClient(url, protocol, timeout=1.0) as c:
                c.blur(np.zeros((8, 8, 3), np.uint8))
        assert time.monotonic() - t0 < 15, e.value
    assert "time" in str(e.value).lower() or "deadline" in str(e.value).lower(), e.value


def test_demo_command(server):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "clients.demo"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    blurred = np.asarray(Image.open(ROOT / "out" / "astronaut_blurred.png"))
    assert blurred.shape == (512, 512, 3)
    assert "wrote" in r.stdout


def test_server_and_stubs_get_the_malloc_settings(server):
    """tritonserver runs with serving.malloc's settings and its stubs inherit the value they
    set back for themselves (why: serving/malloc.py; the effect: docs/performance.md, Soak)."""
    from serving.malloc import SERVER_ENV
    from serving.server.stubs import find_stubs

    def environ(pid):
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return dict(e.decode().split("=", 1) for e in raw if b"=" in e)

    env = environ(server.proc.pid)
    for name, value in SERVER_ENV.items():
        assert env.get(name) == value, name
    stubs = find_stubs(server.shm_prefix)
    assert stubs
    for st in stubs:
        assert environ(st.pid).get("TVO_STUB_MMAP_THRESHOLD") == SERVER_ENV["TVO_STUB_MMAP_THRESHOLD"]
