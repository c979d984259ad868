import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import cuda_reason  # noqa: E402


def pytest_collection_modifyitems(config, items):
    reason = cuda_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"GPU test: {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server():
    """The embedded Triton server over this repository's model_repository/."""
    from segmentation.build import build
    from serving.install import install
    from serving.server import EmbeddedServer

    build()
    install()
    with EmbeddedServer() as s:
        yield s
