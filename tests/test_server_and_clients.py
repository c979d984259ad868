"""The server command and the blur client, as a user runs them."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from clients.api import BlurClient
from segmentation.build import DEFAULT_OUT
from segmentation.runner import SegmentationRunner
from serving import reference
from serving.server import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.server


def test_server_command_runs_and_stops_on_sigint(server):
    ports = [free_port() for _ in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "serving.server", "--http-port", str(ports[0]),
                             "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2])],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import tritonclient.http as http
        client = http.InferenceServerClient(f"127.0.0.1:{ports[0]}")
        for _ in range(480):
            try:
                if client.is_server_ready():
                    break
            except Exception:
                pass
            time.sleep(0.25)
        assert client.is_model_ready("background_blur")
        client.close()  # an open connection would hold the server's shutdown
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert f"127.0.0.1:{ports[0]}" in out


def test_server_command_names_what_is_missing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "serving.server", "--model-repository",
                        str(tmp_path / "nope")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_missing_model_names_the_build_command(tmp_path, monkeypatch):
    from serving import server as srv
    monkeypatch.setattr(srv, "REQUIRED_FILES", {tmp_path / "model.onnx": "python -m segmentation.build"})
    with pytest.raises(srv.ServerError, match="python -m segmentation.build"):
        srv.check_files()


def test_blur_cli_on_files_and_folders(server, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    imgs = {"a": data.astronaut()[::2, ::2], "b": data.coffee()[:200, :300]}
    Image.fromarray(imgs["a"]).save(src / "a.png")
    Image.fromarray(imgs["b"]).save(src / "sub" / "b.jpg", quality=95)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "clients.blur", str(src), "--out", str(out),
                        "--url", server.grpc_url, "--protocol", "grpc", "--mask", "--sigma", "5"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "wrote 2 image(s)" in r.stdout
    runner = SegmentationRunner(DEFAULT_OUT)
    got = np.asarray(Image.open(out / "a.png"))
    ref, ref_mask = reference.background_blur(np.ascontiguousarray(imgs["a"]), runner, sigma=5.0)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.asarray(Image.open(out / "a_mask.png")), ref_mask)
    assert (out / "b.png").exists()


def test_blur_cli_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "clients.blur", str(tmp_path / "nope.png"),
                        "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_api_http_and_validation(server):
    img = np.ascontiguousarray(data.astronaut()[100:300, 100:400])
    with BlurClient(server.http_url, "http") as c:
        blurred, mask = c.blur(img)
        with pytest.raises(ValueError, match="image: expected an \\(H, W, 3\\) uint8"):
            c.blur(img.astype(np.float32))
    ref, ref_mask = reference.background_blur(img, SegmentationRunner(DEFAULT_OUT))
    np.testing.assert_array_equal(blurred, ref)
    with pytest.raises(ValueError, match="protocol"):
        BlurClient(server.http_url, "udp")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_api_timeout_ends_a_request_nobody_answers(protocol):
    """A server that accepts the connection and never answers: the request fails after the
    client's timeout instead of waiting forever (gRPC has no timeout by default)."""
    import socket
    import time

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
    from serving.supervisor import find_stubs

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
