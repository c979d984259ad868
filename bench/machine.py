"""What machine a benchmark or check ran on, for the head of every results file."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """Name of CUDA device 0 as CuPy sees it; None without a usable GPU."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
            return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001 - no driver, no device: CPU only
        pass
    return None


def describe() -> str:
    """'<cpu>, <n> cores, <gpu or no GPU>'."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {gpu_name() or 'no GPU'}"


def slug(name: str) -> str:
    """A file-name form of a device name, e.g. 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def tag() -> str:
    """The default tag for results files: the GPU's slug, else 'cpu-<n>core'."""
    gpu = gpu_name()
    return slug(gpu) if gpu else f"cpu-{os.cpu_count()}core"
