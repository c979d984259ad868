import os

import pytest

from serving.paths import BUILD_CACHE

# The CPU harness's compiled kernels stay in this checkout's build/ (gitignored), not in the
# user's cache that ops uses as a library.
os.environ.setdefault("TVO_CPU_KERNEL_CACHE", str(BUILD_CACHE / "cpu-kernels"))

from tests.helpers import REPLAY, cuda_reason, ort_cuda_reason  # noqa: E402


def pytest_collection_modifyitems(config, items):
    reason = cuda_reason()
    if reason is not None:
        skip = pytest.mark.skip(reason=f"GPU test: {reason}")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
        return
    # A GPU is here; tests that need onnxruntime on it skip, saying why, where it cannot.
    needs_ort = [item for item in items if "ort_cuda" in item.keywords]
    ort = ort_cuda_reason() if needs_ort else None
    for item in needs_ort if ort else []:
        item.add_marker(pytest.mark.skip(reason=ort))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that drew data from tests.helpers.rng_for says how to replay it."""
    report = yield
    if report.failed and REPLAY in item.stash:
        report.sections.append(("replay with the same data", item.stash[REPLAY]))
    return report


@pytest.fixture(params=["reference", "opencv"])
def impl(request):
    """The host implementation a test runs NumPy input through: "reference" (the NumPy
    reference, inside ops.use_reference()) or "opencv" (OpenCV where the op has it,
    forced with use_reference(False) whatever TVO_OPS_REFERENCE says)."""
    import ops
    with ops.use_reference(request.param == "reference"):
        yield request.param


@pytest.fixture(scope="session")
def server():
    """The embedded Triton server over this repository's model_repository/."""
    from segmentation.build import build
    from serving.server.install import install
    from serving.server import EmbeddedServer

    build()
    install()
    with EmbeddedServer() as s:
        yield s


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
