"""Install perf_analyzer into .venv/perf without installing its old client package.

perf_analyzer ships as a binary inside the tritonclient 2.48.0 manylinux wheel (newer
standalone wheels need glibc 2.38). Installing that tritonclient would pin numpy<2, so we
only extract the binary. It links libb64.so.0d and libcudart.so.12: both already lie in
the venv (nvidia-pytriton's bundled libb64, nvidia-cuda-runtime-cu12), so we link them
into a private lib/ folder instead of asking for root to apt-get them.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from serving.paths import BUILD_CACHE

WHEEL_VERSION = "2.48.0"
PERF_HOME = Path(sys.prefix) / "perf"
BINARY = PERF_HOME / "bin" / "perf_analyzer"
LIBDIR = PERF_HOME / "lib"


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _find(pattern: str, where: Path) -> Path:
    hits = sorted(where.glob(pattern))
    if not hits:
        raise FileNotFoundError(
            f"perf_analyzer needs {pattern} under {where}; run `make triton` "
            f"(or `python -m serving.server.install`) and `pip install -r requirements.txt` first")
    return hits[0]


def ensure_perf_analyzer() -> Path:
    """Path of a runnable perf_analyzer; extracts and links it on first use.

    Returns:
        The binary (run it with ``perf_env()``).

    Raises:
        subprocess.CalledProcessError: pip could not download the wheel.
        FileNotFoundError: a library it links is not in the venv (the message says what to
            install).
    """
    if BINARY.exists() and (LIBDIR / "libb64.so.0d").exists():
        return BINARY
    BUILD_CACHE.mkdir(exist_ok=True)
    wheels = list(BUILD_CACHE.glob(f"tritonclient-{WHEEL_VERSION}-*manylinux1_x86_64.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "--only-binary=:all:", "--platform", "manylinux1_x86_64",
                        f"tritonclient=={WHEEL_VERSION}", "-d", str(BUILD_CACHE)], check=True)
        wheels = list(BUILD_CACHE.glob(f"tritonclient-{WHEEL_VERSION}-*manylinux1_x86_64.whl"))
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    member = f"tritonclient-{WHEEL_VERSION}.data/data/bin/perf_analyzer"
    with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src:
        tmp = BINARY.with_suffix(".tmp")
        tmp.write_bytes(src.read())
        tmp.chmod(0o755)
        tmp.replace(BINARY)
    LIBDIR.mkdir(parents=True, exist_ok=True)
    site = _site_packages()
    links = {
        "libb64.so.0d": _find("libb64-*.so.0d", site / "nvidia_pytriton.libs"),
        "libcudart.so.12": _find("libcudart.so.12", site / "nvidia" / "cuda_runtime" / "lib"),
    }
    for name, target in links.items():
        link = LIBDIR / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return BINARY


def perf_env() -> dict[str, str]:
    """Environment for running perf_analyzer (its private lib folder first).

    Returns:
        A copy of os.environ with LD_LIBRARY_PATH extended.
    """
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(LIBDIR), env.get("LD_LIBRARY_PATH", "")) if p)
    return env


def main() -> None:
    """Install perf_analyzer and print its path and version."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    path = ensure_perf_analyzer()
    out = subprocess.run([str(path), "--version"], env=perf_env(), capture_output=True, text=True)
    print(f"perf_analyzer: {path} ({(out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else 'ok'})")


if __name__ == "__main__":
    main()
