"""One server's Python-backend stub processes and /dev/shm regions, read from /proc and
/dev/shm: every region of a server starts with its own prefix (``new_shm_prefix``), which is
how its stubs and leftovers are told apart from any other server's."""
from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

STUB_BINARY = "triton_python_backend_stub"


@dataclass(frozen=True)
class Stub:
    """One Python-backend stub process: pid, model, instance name, /dev/shm region, /proc state."""
    pid: int
    model: str
    instance: str
    region: str
    state: str = "S"  # /proc state: R, S, D, T (stopped), ...


def new_shm_prefix() -> str:
    """A /dev/shm name prefix for one server's stub regions.

    Returns:
        ``tvo_<8 random hex digits>_``.
    """
    return f"tvo_{secrets.token_hex(4)}_"


def read_stub(pid: int) -> Stub | None:
    """The Python-backend stub running as ``pid``.

    A stub's command line is: binary, model.py path, region, sizes, parent pid, backend
    folder, IPC handle, instance name, kind.

    Args:
        pid: a process id.

    Returns:
        The stub, or None for any other process, or one gone.
    """
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not args[0].endswith(STUB_BINARY.encode()) or len(args) < 9:
            return None
        model = Path(args[1].decode()).parts[-3]  # <repository>/<model>/<version>/model.py
        return Stub(pid, model, args[8].decode(), args[2].decode(), (_stat(pid) or [""])[0])
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def find_stubs(shm_prefix: str) -> list[Stub]:
    """The live (not zombie) stubs whose region starts with ``shm_prefix``: one server's.

    Args:
        shm_prefix: the server's region prefix.

    Returns:
        The stubs, in /proc order.
    """
    stubs = (read_stub(int(e.name)) for e in os.scandir("/proc") if e.name.isdigit())
    return [s for s in stubs if s is not None and s.region.startswith(shm_prefix)
            and s.state not in ("Z", "X", "")]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, ... ([] when gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def parent_pid(pid: int) -> int | None:
    """The parent of a process.

    Args:
        pid: a process id.

    Returns:
        Its parent's pid, or None when it is gone.
    """
    fields = _stat(pid)
    return int(fields[1]) if len(fields) > 1 else None


def process_gone(pid: int) -> bool:
    """Exited (a zombie counts: it runs nothing and holds no memory).

    Args:
        pid: a process id.

    Returns:
        True when there is no such process or it is a zombie.
    """
    fields = _stat(pid)
    return not fields or fields[0] in ("Z", "X")


def instances_by_model(stubs: Sequence[Stub]) -> dict[str, set[str]]:
    """model -> the names of its instances that have a stub process.

    Args:
        stubs: stub processes (``find_stubs``).

    Returns:
        Model name -> instance names.
    """
    out: dict[str, set[str]] = {}
    for stub in stubs:
        out.setdefault(stub.model, set()).add(stub.instance)
    return out


def kill_and_wait(stubs: Sequence[Stub], timeout: float = 5.0) -> None:
    """SIGKILL the stubs and wait until each is gone or a zombie.

    Args:
        stubs: stub processes (``find_stubs``); one already gone is skipped.
        timeout: seconds to wait at most; it returns then even if some are still running.
    """
    for stub in stubs:
        try:
            os.kill(stub.pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(process_gone(s.pid) for s in stubs):
        time.sleep(0.02)


def shm_regions(shm_prefix: str) -> list[str]:
    """The /dev/shm regions whose name starts with ``shm_prefix``.

    Args:
        shm_prefix: a server's region prefix.

    Returns:
        Their names, sorted (none when /dev/shm cannot be read).
    """
    try:
        return sorted(n for n in os.listdir("/dev/shm") if n.startswith(shm_prefix))
    except OSError:
        return []


def remove_regions(names: Sequence[str]) -> list[str]:
    """Unlink /dev/shm regions (a process that still maps one keeps its memory).

    Args:
        names: region names under /dev/shm.

    Returns:
        The names removed (one already gone, or not removable, is skipped).
    """
    removed = []
    for n in names:
        try:
            os.unlink(f"/dev/shm/{n}")
            removed.append(n)
        except OSError:
            pass
    return removed
