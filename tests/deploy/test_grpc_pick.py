"""Which grpcio the GPU route uses (bench/gpu/grpc_pick.py, run by bench/gpu/setup.sh): the
machine's unless the carried tritonclient's generated gRPC code would refuse it."""
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import tritonclient
from grpc._utilities import first_version_is_lower as grpc_rule

from bench.gpu import grpc_pick

from serving.paths import REPO_ROOT as ROOT
GENERATED = Path(tritonclient.__file__).parent / "grpc" / "service_pb2_grpc.py"
SCRIPT = ROOT / "bench" / "gpu" / "grpc_pick.py"


def test_the_required_version_is_read_from_the_generated_code_and_pinned_in_the_carry():
    required = grpc_pick.required_version(GENERATED)
    assert re.fullmatch(r"\d+\.\d+\.\d+", required), required
    # The generated code's own check is what the carry must satisfy: build_carry.sh pins
    # exactly this grpcio (and fails the build when tritonclient needs another).
    pin = re.search(r"^GRPCIO=(\S+)$", (ROOT / "bench" / "gpu" / "build_carry.sh").read_text(), re.M)
    assert pin and pin.group(1) == required


def test_a_file_without_the_version_is_refused(tmp_path):
    f = tmp_path / "x_pb2_grpc.py"
    f.write_text("import grpc\n")
    with pytest.raises(ValueError, match="no GRPC_GENERATED_VERSION"):
        grpc_pick.required_version(f)


@pytest.mark.parametrize("a, b", [
    ("1.70.0", "1.81.1"), ("1.81.1", "1.81.1"), ("1.81.0", "1.81.1"), ("1.85.3", "1.81.1"),
    ("1.9.0", "1.81.1"), ("2.0.0", "1.81.1"), ("1.81.1", "1.81.1.dev0"), ("1.81.1.dev0", "1.81.1"),
    ("1.81.0rc1", "1.81.1"), ("1.81", "1.81.1")])
def test_the_comparison_is_the_generated_codes_own(a, b):
    """Predicts exactly what the generated code decides (grpcio's own rule, installed here)."""
    try:
        expected = grpc_rule(a, b)
    except IndexError:  # grpc's rule indexes three parts; ours says "not lower"
        expected = False
    assert grpc_pick.first_version_is_lower(a, b) == expected


def test_when_the_carried_grpcio_is_needed():
    assert grpc_pick.needs_carried("1.70.0", "1.81.1")          # older: the generated code raises
    assert grpc_pick.needs_carried("1.9.0", "1.81.1")           # numbers, not text
    assert not grpc_pick.needs_carried("1.81.1", "1.81.1")
    assert not grpc_pick.needs_carried("1.85.3", "1.81.1")
    assert grpc_pick.needs_carried(None, "1.81.1")              # none installed
    assert grpc_pick.needs_carried("1.90.0", "1.81.1", has_check=False)  # too old to have the check


def test_the_decision_line_says_which_and_why():
    line = grpc_pick.decision_line("1.70.0", "/m/grpc", "1.81.1", "1.81.1")
    assert line == ("== setup: grpcio 1.81.1 (carried, first on the path): the machine's grpcio 1.70.0 "
                    "(/m/grpc) is too old; the carried tritonclient's generated gRPC code needs "
                    "grpcio >= 1.81.1")
    assert "the machine has no usable grpcio (ModuleNotFoundError: x)" in \
        grpc_pick.decision_line(None, "ModuleNotFoundError: x", "1.81.1", "1.81.1")
    assert grpc_pick.decision_line("1.85.3", "/m/grpc", "1.81.1", None).startswith(
        "== setup: grpcio 1.85.3 (the machine's, /m/grpc): ")


def _carried(tmp_path, version):
    d = tmp_path / "carried"
    (d / "grpc").mkdir(parents=True, exist_ok=True)
    (d / "grpc" / "_grpcio_metadata.py").write_text(f'__version__ = """{version}"""')
    return d


def _generated(tmp_path, version):
    f = tmp_path / "service_pb2_grpc.py"
    f.write_text(GENERATED.read_text().replace(grpc_pick.required_version(GENERATED), version))
    return f


def _pick(*args, flags=()):
    return subprocess.run([sys.executable, *flags, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_the_machines_grpcio_is_kept_when_new_enough(tmp_path):
    p = _pick(GENERATED, tmp_path / "absent")   # a carry without grpcio is fine then
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == grpc_pick.decision_line(
        grpc.__version__, str(Path(grpc.__file__).parent), grpc_pick.required_version(GENERATED), None)


def test_an_older_grpcio_makes_the_carried_one_go_first(tmp_path):
    """This Python's grpcio against generated code that needs a newer one."""
    newer = f"{int(grpc.__version__.split('.')[0]) + 1}.0.0"
    p = _pick(_generated(tmp_path, newer), _carried(tmp_path, newer))
    assert p.returncode == grpc_pick.CARRIED_EXIT, p.stdout + p.stderr
    assert f"grpcio {newer} (carried, first on the path): the machine's grpcio {grpc.__version__}" in p.stdout
    # A carried grpcio that is too old itself is an error, said as one.
    p = _pick(_generated(tmp_path, newer), _carried(tmp_path, grpc.__version__))
    assert p.returncode == 2 and p.stdout.startswith("SETUP ERROR: grpcio: the carried grpcio"), p.stdout


def test_no_grpcio_at_all_makes_the_carried_one_go_first(tmp_path):
    """python -S: no site-packages, so really no grpc to import."""
    p = _pick(GENERATED, _carried(tmp_path, "1.81.1"), flags=("-S",))
    assert p.returncode == grpc_pick.CARRIED_EXIT, p.stdout + p.stderr
    assert "the machine has no usable grpcio (ModuleNotFoundError" in p.stdout
    p = _pick(GENERATED, tmp_path / "absent", flags=("-S",))
    assert p.returncode == 2 and "the carry has none usable" in p.stdout, p.stdout
