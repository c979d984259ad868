"""What every layer's tests share: GPU tests skip (saying why) without a GPU, a failed test
that drew random data says how to replay it, and the embedded server (one per session).
Each folder's conftest.py holds its layer's own fixtures."""
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
