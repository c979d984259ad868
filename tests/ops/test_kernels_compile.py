"""Every CUDA kernel compiles with NVRTC for each checked architecture (no GPU needed).

An architecture that the installed NVRTC no longer accepts (CUDA 13's NVRTC dropped
compute_70) is skipped, with the NVRTC version and the architectures it supports in the reason.
NVRTC comes from the nvidia-cuda-nvrtc wheel; CuPy 14 finds it itself (cuda-pathfinder).
"""
import pytest

from cupy_backends.cuda.libs import nvrtc

from ops._gpu import CHECKED_ARCHS, NVRTC_OPTIONS
from ops._kernel_sources import kernel_names, kernel_source


def test_there_are_kernels():
    assert "color" in kernel_names()


def test_nvrtc_supports_most_checked_archs():
    # Guards the skip below: only architectures dropped for their age may skip; an NVRTC
    # that supports fewer than half of the checked ones is broken or far too old.
    supported = set(nvrtc.getSupportedArchs())
    compiled = [a for a in CHECKED_ARCHS if int(a.split("_")[1]) in supported]
    assert len(compiled) > len(CHECKED_ARCHS) / 2, (nvrtc.getVersion(), sorted(supported))


@pytest.mark.parametrize("arch", CHECKED_ARCHS)
@pytest.mark.parametrize("name", kernel_names())
def test_kernel_compiles(name, arch):
    supported = nvrtc.getSupportedArchs()
    if int(arch.split("_")[1]) not in supported:
        major, minor = nvrtc.getVersion()
        pytest.skip(f"{arch} is not supported by the installed NVRTC {major}.{minor} "
                    f"(it supports compute_{', compute_'.join(map(str, supported))})")
    prog = nvrtc.createProgram(kernel_source(name), f"{name}.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [f"--gpu-architecture={arch}", *NVRTC_OPTIONS])
    except nvrtc.NVRTCError as e:
        pytest.fail(f"{name}.cu for {arch}: {e}\n{nvrtc.getProgramLog(prog)}")
    ptx = nvrtc.getPTX(prog)
    assert b".entry" in ptx
    nvrtc.destroyProgram(prog)
