"""The project installs as a package (pyproject.toml): its wheel holds the four packages and
the kernel sources, and ``ops`` installed from it works as a library from any directory —
NumPy, OpenCV and its CUDA kernels on the CPU harness — with the same results as this tree."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import ops
from serving.paths import REPO_ROOT

PACKAGES = ("ops", "segmentation", "serving", "clients")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO_ROOT),
                        "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    [path] = out.glob("triton_vision_ops-*.whl")
    return path


def test_the_wheel_holds_the_packages_and_the_kernels(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.startswith("triton_vision_ops-")} == set(PACKAGES)
    kernels = {n.removeprefix("ops/kernels/") for n in names if n.startswith("ops/kernels/")}
    assert kernels == {str(p.relative_to(REPO_ROOT / "ops" / "kernels"))
                       for p in (REPO_ROOT / "ops" / "kernels").rglob("*") if p.is_file()}
    assert not any("/tests/" in n or n.startswith(("tests/", "bench/")) for n in names)


def test_ops_from_the_installed_wheel_works_anywhere(wheel, tmp_path):
    """Installed into its own folder and imported from another one (first on the path, ahead
    of this editable checkout): resize through OpenCV, a blur through its CUDA kernel on the
    CPU harness (the wheel's own kernel sources), both equal to this tree's ops."""
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    img = np.random.default_rng(7).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.save(tmp_path / "img.npy", img)
    code = (
        "import sys, numpy as np, ops\n"
        "from ops.arrays import hostarrays\n"
        "img = np.load('img.npy')\n"
        "np.save('resized.npy', ops.resize(img, (16, 24)))\n"
        "np.save('blurred.npy', np.asarray(ops.gaussian_blur(hostarrays.asarray(img), 7, 3.0)))\n"
        "print(ops.__file__)\n")
    env = {**os.environ, "PYTHONPATH": str(site), "TVO_CPU_KERNEL_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(site / "ops" / "__init__.py")
    np.testing.assert_array_equal(np.load(tmp_path / "resized.npy"), ops.resize(img, (16, 24)))
    np.testing.assert_array_equal(np.load(tmp_path / "blurred.npy"), ops.gaussian_blur(img, 7, 3.0))
