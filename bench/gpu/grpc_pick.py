"""Which grpcio the GPU route uses: the machine's, or the one the carry brings.

The carried tritonclient's generated ``tritonclient/grpc/service_pb2_grpc.py`` raises at
import when the grpcio it finds is older than the grpcio it was generated with
(``GRPC_GENERATED_VERSION``), and with it ``tritonclient.grpc`` and ``model_config_pb2``
(serving/pipeline/*, the fused models) fail. bench/gpu/setup.sh runs

    python bench/gpu/grpc_pick.py <carried service_pb2_grpc.py> <carried grpcio folder>

with the venv's python before the carried grpcio is on its path: it prints one line saying
which grpcio is used and why, and exits 0 when the machine's will do, CARRIED_EXIT when the
carried one must go first on the path (2 when the carry itself is wrong).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

CARRIED_EXIT = 10
_GENERATED = re.compile(r"""^GRPC_GENERATED_VERSION\s*=\s*['"]([^'"]+)['"]""", re.M)
_METADATA = re.compile(r"""__version__\s*=\s*['"]+([^'"]+)['"]+""")


def required_version(generated: Path) -> str:
    """The grpcio version a generated ``*_pb2_grpc.py`` needs at least (its
    ``GRPC_GENERATED_VERSION``); ValueError naming the file when it has none."""
    m = _GENERATED.search(generated.read_text())
    if not m:
        raise ValueError(f"{generated}: no GRPC_GENERATED_VERSION line")
    return m.group(1)


def carried_version(folder: Path) -> str:
    """The version of the grpcio unpacked in ``folder`` (its grpc/_grpcio_metadata.py);
    ValueError naming the file when it cannot be read."""
    path = folder / "grpc" / "_grpcio_metadata.py"
    m = _METADATA.search(path.read_text()) if path.is_file() else None
    if not m:
        raise ValueError(f"{path}: no grpcio version there")
    return m.group(1)


def first_version_is_lower(version1: str, version2: str) -> bool:
    """grpc._utilities.first_version_is_lower, the check the generated code runs: the first
    three dot-separated parts compared as integers (a part that is not an integer, e.g.
    '0rc1', makes it False); equal there, the one with fewer parts is lower."""
    a, b = version1.split("."), version2.split(".")
    try:
        for i in range(3):
            if int(a[i]) < int(b[i]):
                return True
            if int(a[i]) > int(b[i]):
                return False
    except (ValueError, IndexError):
        return False
    return len(a) < len(b)


def needs_carried(installed: str | None, required: str, has_check: bool = True) -> bool:
    """Whether the generated code would refuse this grpcio, so the carried one must go first:
    none installed (None), a grpc without ``grpc._utilities.first_version_is_lower`` (the
    generated code treats that as unsupported: ``has_check`` False), or one older than
    ``required``."""
    return installed is None or not has_check or first_version_is_lower(installed, required)


def machine_grpc() -> tuple[str | None, str, bool]:
    """(version, folder, has the generated code's check) of the grpc this Python imports;
    (None, why, False) when it has none or it does not import."""
    try:
        import grpc
    except Exception as e:  # noqa: BLE001 - missing or broken: either way not usable
        return None, f"{type(e).__name__}: {str(e)[:160]}", False
    try:
        from grpc._utilities import first_version_is_lower as _  # noqa: F401
        has_check = True
    except ImportError:
        has_check = False
    return getattr(grpc, "__version__", "?"), str(Path(grpc.__file__).parent), has_check


def decision_line(installed: str | None, where: str, required: str, carried: str | None) -> str:
    """The one line setup.sh prints: which grpcio is used and why. ``carried``: the carried
    version when it is used, None when the machine's is."""
    need = f"the carried tritonclient's generated gRPC code needs grpcio >= {required}"
    if carried is None:
        return f"== setup: grpcio {installed} (the machine's, {where}): {need}"
    if installed is None:
        return (f"== setup: grpcio {carried} (carried, first on the path): the machine has no "
                f"usable grpcio ({where}); {need}")
    return (f"== setup: grpcio {carried} (carried, first on the path): the machine's grpcio "
            f"{installed} ({where}) is too old; {need}")


def main(argv: list[str]) -> int:
    """argv: the carried service_pb2_grpc.py and the carried grpcio's folder. Prints the
    decision; CARRIED_EXIT when the carried grpcio must go first, 0 when the machine's will
    do, 2 on a bad argument or a carried grpcio that would not do either."""
    if len(argv) != 2:
        print("usage: grpc_pick.py <carried tritonclient/grpc/service_pb2_grpc.py> "
              "<carried grpcio folder>", file=sys.stderr)
        return 2
    try:
        required = required_version(Path(argv[0]))
    except (OSError, ValueError) as e:
        print(f"SETUP ERROR: grpcio: {e}")
        return 2
    installed, where, has_check = machine_grpc()
    if not needs_carried(installed, required, has_check):
        print(decision_line(installed, where, required, None))
        return 0
    try:
        carried = carried_version(Path(argv[1]))
    except (OSError, ValueError) as e:
        print(f"SETUP ERROR: grpcio: the machine's ({installed or where}) is too old for "
              f"tritonclient (>= {required}) and the carry has none usable: {e}")
        return 2
    if first_version_is_lower(carried, required):
        print(f"SETUP ERROR: grpcio: the carried grpcio {carried} is older than the {required} "
              f"tritonclient needs (and the machine's is {installed or 'missing'}): rebuild the carry")
        return 2
    print(decision_line(installed, where, required, carried))
    return CARRIED_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
