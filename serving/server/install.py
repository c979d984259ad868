"""Install the tritonserver binary (from the nvidia-pytriton wheel) into this venv.

    python -m serving.server.install          (run by `make triton`)

The wheel carries tritonserver 2.51 with the Python backend; its declared dependencies
pin NumPy < 2 and are not needed for the binary, so it is installed with --no-deps. The
Python backend needs the stub built for the running Python next to libtriton_python.so.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

PYTRITON = "nvidia-pytriton==0.7.0"
INSTALL_COMMAND = "python -m serving.server.install (or: make triton)"


class TritonNotInstalled(RuntimeError):
    """tritonserver, its Python backend or the stub is missing; says how to install."""


def triton_root(required: bool = True) -> Path | None:
    """The pytriton/tritonserver folder of this environment.

    Args:
        required: raise when pytriton is not installed, rather than return None.

    Returns:
        The folder, or None when it is not installed and not ``required``.

    Raises:
        TritonNotInstalled: pytriton is not installed and ``required``.
    """
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        if required:
            raise TritonNotInstalled(f"tritonserver is not installed; run {INSTALL_COMMAND}")
        return None
    return Path(spec.submodule_search_locations[0]) / "tritonserver"


def stub_path(root: Path) -> Path:
    """Where the Python backend looks for its stub.

    Args:
        root: the tritonserver folder.

    Returns:
        root/backends/python/triton_python_backend_stub.
    """
    return root / "backends" / "python" / "triton_python_backend_stub"


def check_installation() -> Path:
    """The tritonserver root, after checking binary, backend and stub are in place.

    Returns:
        The folder (bin/, backends/ below it).

    Raises:
        TritonNotInstalled: one of them is missing; the message says how to install.
    """
    root = triton_root()
    for path, what in ((root / "bin" / "tritonserver", "the tritonserver binary"),
                       (root / "backends" / "python" / "libtriton_python.so", "the Python backend"),
                       (stub_path(root), f"the Python {sys.version_info.major}.{sys.version_info.minor} backend stub")):
        if not path.exists():
            raise TritonNotInstalled(f"{what} is missing ({path}); run {INSTALL_COMMAND}")
    return root


def install() -> Path:
    """Install the wheel if needed (--no-deps) and the stub for the running Python.

    Returns:
        The tritonserver root, checked.

    Raises:
        subprocess.CalledProcessError: pip failed.
        TritonNotInstalled: the wheel has no stub for this Python, or a part is still missing.
    """
    root = triton_root(required=False)
    if root is None or not (root / "bin" / "tritonserver").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", PYTRITON],
                       check=True)
        importlib.invalidate_caches()
        root = triton_root()
    stub = stub_path(root)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    src = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not src.exists():
        raise TritonNotInstalled(f"{PYTRITON} has no Python backend stub for Python {version}")
    if not stub.exists() or stub.read_bytes() != src.read_bytes():
        shutil.copy2(src, stub)
    return check_installation()


def main() -> None:
    """Install, then print where tritonserver is."""
    root = install()
    print(f"tritonserver ready: {root / 'bin' / 'tritonserver'}")


if __name__ == "__main__":
    main()
