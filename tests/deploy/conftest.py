"""The deployment tests run the project's own entry points as a user or a machine does:
the benchmark and check scripts as modules, from the repository root."""
import subprocess
import sys

import pytest

from serving.paths import REPO_ROOT


@pytest.fixture
def bench_module():
    """``run(name, *args, timeout=300)``: ``python -m bench.<name> args`` from the repository
    root, its output captured (a subprocess.CompletedProcess)."""
    def run(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", f"bench.{name}", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=timeout)
    return run
