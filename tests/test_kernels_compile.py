"""Every CUDA kernel compiles with NVRTC for each checked architecture (no GPU needed)."""
import pytest

from ops._gpu import CHECKED_ARCHS, NVRTC_OPTIONS, kernel_names, kernel_source, preload_pip_nvrtc

preload_pip_nvrtc()
from cupy_backends.cuda.libs import nvrtc  # noqa: E402


def test_there_are_kernels():
    assert "color" in kernel_names()


@pytest.mark.parametrize("arch", CHECKED_ARCHS)
@pytest.mark.parametrize("name", kernel_names())
def test_kernel_compiles(name, arch):
    prog = nvrtc.createProgram(kernel_source(name), f"{name}.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [f"--gpu-architecture={arch}", *NVRTC_OPTIONS])
    except nvrtc.NVRTCError as e:
        pytest.fail(f"{name}.cu for {arch}: {e}\n{nvrtc.getProgramLog(prog)}")
    ptx = nvrtc.getPTX(prog)
    assert b".entry" in ptx
    nvrtc.destroyProgram(prog)
