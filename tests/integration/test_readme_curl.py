"""The README's curl example, run as written against the real server."""
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from ops.codec import sniff
from tests.codec_cases import cv_reference, pil_file
from tests.helpers import infer

from serving.paths import REPO_ROOT as ROOT
pytestmark = pytest.mark.server
SHELLS = ["bash"] + (["dash"] if shutil.which("dash") else [])  # dash: POSIX sh, no bashisms


def curl_example() -> str:
    """The fenced sh block of README.md that posts to background_blur_encoded."""
    blocks = re.findall(r"^( *)```sh\n(.*?)^\1```", (ROOT / "README.md").read_text(), re.M | re.S)
    found = [textwrap.dedent(b) for _, b in blocks if "/v2/models/background_blur_encoded/infer" in b]
    assert len(found) == 1, f"expected one curl example in README.md, found {len(found)}"
    return found[0]


def run_example(shell: str, server, cwd: Path, img: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRITON": server.http_url, "IMG": str(img), "OUT": str(out)}
    return subprocess.run([shell, "-c", curl_example()], cwd=cwd, env=env, capture_output=True,
                          timeout=120)


def test_example_uses_only_shell_and_curl():
    script = curl_example()
    for tool in ("jq", "python", "base64", "xxd", "perl"):
        assert not re.search(rf"\b{tool}\b", script), tool
    assert "binary_data" in script and "Inference-Header-Content-Length" in script


@pytest.mark.parametrize("shell", SHELLS)
def test_readme_curl_example_saves_the_blurred_jpeg(server, tmp_path, shell):
    photo = pil_file(data.astronaut()[::2, ::2], "JPEG", quality=92)
    (tmp_path / "photo.jpg").write_bytes(photo)
    out = tmp_path / "blurred.jpg"
    r = run_example(shell, server, tmp_path, tmp_path / "photo.jpg", out)
    assert r.returncode == 0 and not r.stdout and not r.stderr, (r.stdout + r.stderr)[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blurred.jpg", "photo.jpg"]  # cleaned up
    got = out.read_bytes()
    assert sniff(got) == "jpeg"
    ref = infer(server.http_url, "http", "background_blur_encoded",
                {"ENCODED": np.frombuffer(photo, np.uint8)[None]}, outputs=("BLURRED",))
    ref = ref["BLURRED"][0].tobytes()
    assert sniff(ref) == "jpeg"
    np.testing.assert_array_equal(cv_reference(got), cv_reference(ref))
    assert got == ref


def test_readme_curl_example_prints_the_servers_refusal(server, tmp_path):
    (tmp_path / "photo.bmp").write_bytes(b"BM" + bytes(100))
    out = tmp_path / "blurred.jpg"
    r = run_example(SHELLS[-1], server, tmp_path, tmp_path / "photo.bmp", out)
    assert b"not a JPEG, PNG or WebP file" in r.stdout, r.stdout + r.stderr
    assert not out.exists()
