"""The test data's seeds (tests.helpers.rng_for) and the replay line of a failing test."""
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.helpers import REPLAY, SEED_ENV, replay_command, rng_for, seed_for

from serving.paths import REPO_ROOT as ROOT


def fake_request(nodeid):
    return SimpleNamespace(node=SimpleNamespace(nodeid=nodeid, stash=pytest.Stash()))


def draw(nodeid):
    return rng_for(fake_request(nodeid)).integers(0, 2**62, 4).tolist()


def test_seed_is_stable_and_per_test(monkeypatch):
    monkeypatch.delenv(SEED_ENV, raising=False)
    a, b = "tests/test_x.py::test_a[1]", "tests/test_x.py::test_a[2]"
    assert draw(a) == draw(a)
    assert draw(a) != draw(b)
    assert seed_for(a) == seed_for(a) != seed_for(b)
    monkeypatch.setenv(SEED_ENV, "12345")
    fuzzed = draw(a)
    assert fuzzed == draw(a) and fuzzed != draw(b)
    monkeypatch.setenv(SEED_ENV, "12346")
    assert draw(a) != fuzzed
    monkeypatch.delenv(SEED_ENV)
    assert draw(a) != fuzzed


def test_replay_command(monkeypatch):
    monkeypatch.delenv(SEED_ENV, raising=False)
    request = fake_request("tests/test_x.py::test_a[(1, 2)-linear]")
    rng_for(request)
    assert request.node.stash[REPLAY] == ".venv/bin/python -m pytest 'tests/test_x.py::test_a[(1, 2)-linear]'"
    assert replay_command("t.py::x", -3) == "TVO_TEST_SEED=-3 .venv/bin/python -m pytest 't.py::x'"
    monkeypatch.setenv(SEED_ENV, "x1")
    with pytest.raises(ValueError, match="TVO_TEST_SEED: expected an integer"):
        rng_for(request)


FAILING = '''
from tests.helpers import rng_for


def test_data(request):
    print("drew", rng_for(request).integers(0, 2**62))
    assert False


def test_no_data():
    assert False


def test_passes(request):
    rng_for(request)
'''


def run_failing(tmp_path, seed):
    (tmp_path / "test_failing.py").write_text(FAILING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != SEED_ENV}
    env["PYTHONPATH"] = str(ROOT)
    if seed is not None:
        env[SEED_ENV] = str(seed)
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest",
                        "test_failing.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert "2 failed, 1 passed" in r.stdout, r.stdout + r.stderr
    return r.stdout


def test_failure_prints_replay_line(tmp_path):
    out = run_failing(tmp_path, None)
    lines = out.splitlines()
    replay = [i for i, line in enumerate(lines) if "replay with the same data" in line]
    assert len(replay) == 1, out  # test_data only: test_no_data drew no data, test_passes passed
    assert lines[replay[0] + 1] == ".venv/bin/python -m pytest 'test_failing.py::test_data'", out
    drew = [line for line in lines if line.startswith("drew ")]
    assert drew and run_failing(tmp_path, None).count(drew[0]) == 1  # a rerun draws the same
    fuzzed = run_failing(tmp_path, 77)
    assert "TVO_TEST_SEED=77 .venv/bin/python -m pytest 'test_failing.py::test_data'" in fuzzed.splitlines()
    assert drew[0] not in fuzzed
