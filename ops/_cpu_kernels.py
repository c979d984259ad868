"""CUDA kernels on the CPU: the harness that runs ops/kernels/*.cu where there is no GPU.

Each kernel module is compiled, unchanged, by the host C++ compiler after
kernels/cpu/cuda_on_cpu.h (CUDA's qualifiers, built-ins and intrinsics, a portable form
of the inline PTX, and a grid runner), with one generated launcher per ``extern "C"
__global__`` function. Ops reach it through ``ops._launch.launch``, with the same arguments
as a CUDA launch, whenever their arrays are :class:`ops.arrays.HostArray`: host memory
that ops treat as device memory. So one op call runs its host implementation (NumPy input: OpenCV or the NumPy
reference, ops/_dispatch.py), its kernel on the GPU (CuPy input) or the same kernel here
(HostArray input).

What the harness shows and what it cannot: docs/ops.md, "How the kernels are verified".
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ._kernel_sources import KERNEL_DIR
from .arrays import HostArray, describe_address

HEADER = KERNEL_DIR / "cpu" / "cuda_on_cpu.h"
# -ffp-contract=off is the host twin of NVRTC's --fmad=false (ops/_gpu.NVRTC_OPTIONS).
CXXFLAGS = ("-std=c++14", "-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
            "-fno-strict-aliasing")
CACHE_ENV = "TVO_CPU_KERNEL_CACHE"
# A launch running longer is ended with a KernelFault (an endless loop would otherwise hang
# CI until its limit). The test cases take milliseconds; a GPU's watchdog is similar.
TIMEOUT_S = float(os.environ.get("TVO_CPU_KERNEL_TIMEOUT_S", "60"))

_lock = threading.RLock()  # one launch at a time: the runner's state is per library
_libraries: dict[tuple[str, str], "_Library"] = {}
_source_dir: Path = KERNEL_DIR.resolve()
# (module, kernel) -> launches so far in this process: which kernels the tests reached.
launched: dict[tuple[str, str], int] = {}


class KernelBuildError(RuntimeError):
    """A kernel module did not compile for the CPU; the message holds the compiler's."""


class KernelFault(RuntimeError):
    """A kernel failed on the CPU: an access outside every array, a divergent barrier, a
    launch over TIMEOUT_S."""


# ---- kernel signatures, from the sources -------------------------------------------------

_SCALARS = {"int": np.int32, "unsigned int": np.uint32, "unsigned": np.uint32,
            "long long": np.int64, "unsigned long long": np.uint64, "float": np.float32,
            "double": np.float64, "short": np.int16, "unsigned short": np.uint16,
            "char": np.int8, "unsigned char": np.uint8, "bool": np.bool_}
_CTYPES = {np.int32: ctypes.c_int32, np.uint32: ctypes.c_uint32, np.int64: ctypes.c_int64,
           np.uint64: ctypes.c_uint64, np.float32: ctypes.c_float, np.float64: ctypes.c_double,
           np.int16: ctypes.c_int16, np.uint16: ctypes.c_uint16, np.int8: ctypes.c_int8,
           np.uint8: ctypes.c_uint8, np.bool_: ctypes.c_bool}
_KERNEL_RE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)


@dataclass(frozen=True)
class Param:
    ctype: str          # as written, e.g. "const long long*"
    name: str
    scalar: Any         # NumPy scalar type, or None for a pointer

    def unpack(self, i: int) -> str:
        return f"*({self.ctype}*)a[{i}]"


def kernel_signatures(source: str) -> dict[str, tuple[Param, ...]]:
    """{kernel: parameters} of every extern "C" __global__ function in ``source``."""
    out = {}
    for name, params in _KERNEL_RE.findall(source):
        parsed = []
        for p in (x.strip() for x in params.split(",") if x.strip()):
            m = re.match(r"(.*?)(\w+)\s*$", p, re.S)
            ctype = " ".join(m.group(1).split()).replace(" *", "*")
            if ctype.endswith("*"):
                parsed.append(Param(ctype, m.group(2), None))
                continue
            base = " ".join(w for w in ctype.split() if w not in ("const", "volatile"))
            if base not in _SCALARS:
                raise KernelBuildError(f"kernel {name}: parameter {m.group(2)} has type "
                                       f"{ctype!r}, which the CPU harness does not pass")
            parsed.append(Param(ctype, m.group(2), _SCALARS[base]))
        out[name] = tuple(parsed)
    return out


# ---- building ----------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where compiled kernel libraries are kept: $TVO_CPU_KERNEL_CACHE, else the user's cache
    (a library's own directory may be read-only once installed)."""
    user = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get(CACHE_ENV) or Path(user) / "tvo-ops" / "cpu-kernels")


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise KernelBuildError("the CPU kernel harness needs a C++ compiler (g++; or set CXX)")
    return cxx


def translation_unit(module: str, source_dir: Path) -> str:
    """The C++ file the harness compiles for kernels/<module>.cu: the header, the module
    itself by #include (so errors name its file and line), one launcher per kernel."""
    cu = source_dir / f"{module}.cu"
    text = cu.read_text()
    # Cooperative (fiber) mode only where a barrier can be reached: the module or a header.
    uses_barriers = "__syncthreads" in "".join(
        p.read_text() for p in [cu, *sorted(source_dir.glob("*.cuh"))])
    lines = [f'#include "{HEADER}"', f'#include "{cu}"', ""]
    for name, params in kernel_signatures(text).items():
        call = ", ".join(p.unpack(i) for i, p in enumerate(params))
        lines += [
            f"static void tvo_body_{name}(void** a) {{ {name}({call}); }}",
            f'extern "C" int tvo_launch_{name}(const unsigned* grid, const unsigned* block, '
            f"void** args, char* err, int errlen, int timeout_ms) {{",
            f'    return cuda_on_cpu::run_grid("{name}", {str(uses_barriers).lower()}, grid, '
            f"block, tvo_body_{name}, args, err, errlen, timeout_ms);",
            "}", ""]
    return "\n".join(lines)


def _fingerprint(module: str, source_dir: Path, cxx: str) -> str:
    h = hashlib.sha256()
    for p in [HEADER, *sorted(source_dir.glob("*.cu*"))]:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    h.update(str(source_dir).encode() + module.encode() + " ".join((cxx, *CXXFLAGS)).encode())
    return h.hexdigest()[:20]


class _Library:
    def __init__(self, module: str, source_dir: Path) -> None:
        cxx = _compiler()
        self.module = module
        self.signatures = kernel_signatures((source_dir / f"{module}.cu").read_text())
        # Other source trees (a planted-bug copy) build beside themselves, not in the cache.
        where = cache_dir() if source_dir == KERNEL_DIR.resolve() else source_dir / "build"
        out = where / f"{module}-{_fingerprint(module, source_dir, cxx)}.so"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
                tu = Path(tmp) / f"{module}.cu.cpp"
                tu.write_text(translation_unit(module, source_dir))
                so = Path(tmp) / out.name
                r = subprocess.run([cxx, *CXXFLAGS, "-o", str(so), str(tu)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise KernelBuildError(
                        f"compiling kernel module {source_dir / module}.cu for the CPU "
                        f"harness failed ({cxx}):\n{r.stderr.strip()}")
                os.replace(so, out)  # atomic: parallel test processes may race here
        self.lib = ctypes.CDLL(str(out))

    def launch(self, kernel: str, grid: tuple[int, int, int], block: tuple[int, int, int],
               args: Sequence[Any]) -> None:
        params = self.signatures.get(kernel)
        if params is None:
            raise AttributeError(f"kernels/{self.module}.cu has no extern \"C\" __global__ "
                                 f"function {kernel!r}")
        if len(args) != len(params):
            raise TypeError(f"kernel {kernel}: {len(params)} arguments "
                            f"({', '.join(p.name for p in params)}), got {len(args)}")
        values = [_argument(kernel, i, p, a) for i, (p, a) in enumerate(zip(params, args))]
        argv = (ctypes.c_void_p * max(len(values), 1))(
            *[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        err = ctypes.create_string_buffer(512)
        fn = getattr(self.lib, f"tvo_launch_{kernel}")
        timeout_s = TIMEOUT_S
        with _lock:
            launched[self.module, kernel] = launched.get((self.module, kernel), 0) + 1
            rc = fn((ctypes.c_uint * 3)(*grid), (ctypes.c_uint * 3)(*block), argv, err, 512,
                    ctypes.c_int(int(timeout_s * 1000)))
        if rc != 0:
            msg = err.value.decode(errors="replace")
            m = re.search(r"at address (0x[0-9a-f]+|\(nil\))", msg)
            if m:
                address = 0 if m.group(1) == "(nil)" else int(m.group(1), 16)
                msg += f": {describe_address(address)}"
            raise KernelFault(msg)


def _argument(kernel: str, i: int, p: Param, a: Any) -> Any:
    if p.scalar is None:
        if not isinstance(a, HostArray):
            raise TypeError(f"kernel {kernel}: argument {i} ({p.ctype} {p.name}) must be a "
                            f"HostArray (device memory), got {type(a).__name__}")
        return ctypes.c_void_p(a.ctypes.data)
    if type(a) is not p.scalar:
        raise TypeError(f"kernel {kernel}: argument {i} ({p.ctype} {p.name}) must be "
                        f"np.{np.dtype(p.scalar).name}, got {type(a).__name__} {a!r}")
    return _CTYPES[p.scalar](a.item())


def library(module: str) -> _Library:
    """The compiled CPU library of kernels/<module>.cu (from the current source dir)."""
    key = (str(_source_dir), module)
    with _lock:
        lib = _libraries.get(key)
        if lib is None:
            lib = _libraries[key] = _Library(module, _source_dir)
    return lib


def launch(module: str, kernel: str, grid: tuple[int, int, int],
           block: tuple[int, int, int], args: Sequence[Any]) -> None:
    """Run kernels/<module>.cu:<kernel> over grid x block on the CPU, with the arguments a
    CUDA launch takes (HostArrays for pointers, NumPy scalars of the parameter types)."""
    library(module).launch(kernel, grid, block, args)


def build_all() -> list[str]:
    """Compile every kernel module (the test set-up calls this first); their names."""
    names = sorted(p.stem for p in _source_dir.glob("*.cu"))
    for name in names:
        library(name)
    return names


@contextmanager
def kernel_sources(directory: Path) -> Iterator[None]:
    """Compile and run kernels from ``directory`` instead of ops/kernels (a copy with a
    planted bug, in the harness's own tests)."""
    global _source_dir
    with _lock:
        old, _source_dir = _source_dir, Path(directory).resolve()
        try:
            yield
        finally:
            _source_dir = old
