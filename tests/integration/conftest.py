"""The integration tests run the real embedded server (tests/conftest.py's ``server``) and
real clients; the reference they hold its answers to runs the same DNN in this process."""
import pytest


@pytest.fixture(scope="session")
def runner():
    """The segmentation DNN for tests.reference's chain, on onnxruntime's default device here
    (the server's own choice on this machine)."""
    from segmentation.build import DEFAULT_OUT
    from segmentation.runner import SegmentationRunner

    return SegmentationRunner(DEFAULT_OUT)
