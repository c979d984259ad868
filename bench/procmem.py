"""Memory held by a server's process tree: tritonserver and its children (the Python
backend stubs), resident (VmRSS from /proc) and on the GPU (nvidia-smi, else CuPy), in all
and per stub process (each model instance is its own stub with its own CUDA context).

Read from /proc only, so it works on any Linux without psutil; used by bench/soak.py and
tests/integration/test_gpu_server.py.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from serving.server.stubs import Stub, parent_pid, read_stub


def process_tree(pid: int) -> set[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        parent = parent_pid(int(entry.name))
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo += children.get(p, [])
    return out


def rss_kib(pid: int) -> int | None:
    """VmRSS of one process in KiB; None when it is gone (or a kernel thread)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_name(pid: int) -> str:
    """A short name: a Python backend stub by its model (from the model path it was started
    with), anything else by its executable's base name."""
    stub = read_stub(pid)
    if stub is not None:
        return f"stub:{stub.model}"
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "?"
    return Path(argv0).name or "?"


def tree_rss(pid: int) -> list[tuple[int, str, int]]:
    """(pid, name, RSS KiB) of pid and every descendant still alive, largest first."""
    rows = []
    for p in process_tree(pid):
        kib = rss_kib(p)
        if kib is not None:
            rows.append((p, process_name(p), kib))
    return sorted(rows, key=lambda r: -r[2])


def listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port (/proc/net/tcp{,6} and the processes'
    socket fds; only processes this user may read)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    if not inodes:
        return None
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                try:
                    if str(fd.readlink()) in inodes:
                        return int(fd_dir.parent.name)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def nvidia_smi(query: str) -> str:
    """nvidia-smi QUERY as bare CSV; '' without nvidia-smi."""
    try:
        return subprocess.run(["nvidia-smi", query, "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def parse_compute_apps(text: str) -> dict[int, float | None]:
    """pid -> MiB of GPU memory from ``nvidia-smi --query-compute-apps=pid,used_memory
    --format=csv,noheader,nounits``: a pid listed on several GPUs is summed; one listed
    without a number (``[N/A]``, as under some virtualisation) maps to None; anything that
    is not a pid row (a header, an error message) is left out."""
    out: dict[int, float | None] = {}
    for line in text.splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        try:
            mib: float | None = float(parts[1])
        except ValueError:
            mib = None
        if mib is None:
            out.setdefault(pid, None)
        else:
            out[pid] = (out.get(pid) or 0.0) + mib
    return out


def compute_apps() -> dict[int, float | None]:
    """pid -> MiB of every process on the GPUs, as nvidia-smi lists them ({} without it)."""
    return parse_compute_apps(nvidia_smi("--query-compute-apps=pid,used_memory"))


def tree_stubs(pid: int) -> list[Stub]:
    """The Python-backend stubs in pid's process tree (one per model instance), by instance
    name: read from each stub's command line (argv[8] is the instance's name, see
    serving.server.stubs.read_stub)."""
    stubs = (read_stub(p) for p in process_tree(pid) if p != pid)
    return sorted((s for s in stubs if s is not None), key=lambda s: s.instance)


def per_stub_gpu(pid: int, apps: dict[int, float | None] | None = None) -> list[dict[str, Any]]:
    """One row per process of a server: tritonserver (pid) first, then each stub by
    instance: {pid, instance, model, gpu_mib}; gpu_mib None where nvidia-smi does not list
    the process (no GPU, no CUDA context in it, or another PID namespace) or gives no
    number. ``apps``: compute_apps() already read."""
    apps = compute_apps() if apps is None else apps
    rows = [{"pid": pid, "instance": "tritonserver", "model": "", "gpu_mib": apps.get(pid)}]
    rows += [{"pid": s.pid, "instance": s.instance, "model": s.model, "gpu_mib": apps.get(s.pid)}
             for s in tree_stubs(pid)]
    return rows


def gpu_memory(pid: int) -> dict[str, Any]:
    """MiB of GPU memory held by pid's process tree (nvidia-smi), and device-wide (nvidia-smi,
    else CuPy); None where it cannot be read (no GPU)."""
    out: dict[str, Any] = {}
    pids = process_tree(pid)
    procs = {p: mib for p, mib in compute_apps().items() if p in pids and mib is not None}
    out["server_processes_mib"] = sum(procs.values()) if procs else None
    out["server_processes"] = len(procs)
    try:
        out["device_used_mib"] = float(nvidia_smi("--query-gpu=memory.used").split()[0])
    except (IndexError, ValueError):
        try:
            import cupy
            free, total = cupy.cuda.runtime.memGetInfo()
            out["device_used_mib"] = (total - free) / 2**20
        except Exception:  # noqa: BLE001 - no driver, no device
            out["device_used_mib"] = None
    return out
