"""The ops tests' fixtures: which host implementation NumPy input runs through, and where an
op's CUDA kernel runs (the GPU, or the CPU harness built once per session)."""
import pytest


@pytest.fixture(params=["reference", "opencv"])
def impl(request):
    """The host implementation a test runs NumPy input through: "reference" (the NumPy
    reference, inside ops.use_reference()) or "opencv" (OpenCV where the op has it,
    forced with use_reference(False) whatever TVO_OPS_REFERENCE says)."""
    import ops
    with ops.use_reference(request.param == "reference"):
        yield request.param


@pytest.fixture(scope="session")
def cpu_kernels_built():
    """Every kernel module compiled for the CPU harness, once per session (a compile error
    fails each harness test with the compiler's message, naming the file and line)."""
    from ops import _cpu_kernels
    return _cpu_kernels.build_all()


@pytest.fixture(params=[pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.kernels]),
                        pytest.param("harness", marks=pytest.mark.kernels)])
def backend(request):
    """Where an op's CUDA kernel runs: "cuda" (CuPy on a GPU; skipped without one) or
    "harness" (the same kernel source compiled for the CPU, ops/_cpu_kernels.py)."""
    if request.param == "harness":
        request.getfixturevalue("cpu_kernels_built")
    return request.param
