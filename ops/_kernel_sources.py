"""The kernel sources (ops/kernels/*.cu) as the CUDA compiler (ops/_gpu.py) and the CPU
harness (ops/_cpu_kernels.py) both read them."""
from __future__ import annotations

import re
from pathlib import Path

KERNEL_DIR = Path(__file__).parent / "kernels"


def kernel_names() -> list[str]:
    """Names of all kernel modules (ops/kernels/*.cu)."""
    return sorted(p.stem for p in KERNEL_DIR.glob("*.cu"))


def kernel_source(name: str) -> str:
    """Source of kernels/<name>.cu with local #include "x.cuh" lines inlined.

    Inlining (instead of -I) keeps the source self-contained, so the NVRTC test, the
    on-disk cache key of CuPy and the runtime all see exactly the same text.
    """
    seen: set[str] = set()

    def expand(text: str) -> str:
        def sub(m: re.Match) -> str:
            inc = m.group(1)
            if inc in seen:
                return ""
            seen.add(inc)
            return expand((KERNEL_DIR / inc).read_text())
        return re.sub(r'^#include "([^"]+)"\s*$', sub, text, flags=re.M)

    return expand((KERNEL_DIR / f"{name}.cu").read_text())
