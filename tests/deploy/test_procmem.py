"""bench/procmem.py: nvidia-smi's per-process GPU memory, and each stub process of a real
server mapped to the model instance it serves (the GPU check's per-stub table)."""
import os
import re

from bench.procmem import parse_compute_apps, per_stub_gpu, tree_stubs
from serving.server.stubs import parent_pid


def test_parse_compute_apps():
    text = ("1234, 1010\n"
            "  5678 , 384\n"
            "1234, 6\n"              # the same process on a second GPU: summed
            "91, [N/A]\n"            # listed, no number (some virtualised GPUs)
            "92, [Not Supported]\n92, 10\n"
            "No running processes found\n"
            "pid, used_gpu_memory [MiB]\n"
            "\n")
    assert parse_compute_apps(text) == {1234: 1016.0, 5678: 384.0, 91: None, 92: 10.0}
    assert parse_compute_apps("") == {}
    assert parse_compute_apps("NVIDIA-SMI has failed because it couldn't communicate with the "
                              "NVIDIA driver.") == {}


def test_stub_processes_map_to_the_instances_the_server_started(server):
    """Against the real (CPU) server: every stub process in its tree is named by the instance
    it serves, and the server's own log names the same instances
    (TRITONBACKEND_ModelInstanceInitialize lines)."""
    pid = server.proc.pid
    stubs = tree_stubs(pid)
    log = server.log_path.read_text(errors="replace")
    started = set(re.findall(r"TRITONBACKEND_ModelInstanceInitialize: (\S+) \(", log))
    assert started and {s.instance for s in stubs} == started
    assert len({s.pid for s in stubs}) == len(stubs)               # one process per instance
    for s in stubs:
        assert parent_pid(s.pid) == pid
        assert s.instance == s.model or s.instance.startswith(s.model + "_"), s
        assert os.path.isfile(server.repository / s.model / "config.pbtxt")
    rows = per_stub_gpu(pid, apps={pid: 700.0, stubs[0].pid: 1200.0})
    assert rows[0] == {"pid": pid, "instance": "tritonserver", "model": "", "gpu_mib": 700.0}
    assert [r["instance"] for r in rows[1:]] == sorted(s.instance for s in stubs)
    by_pid = {r["pid"]: r for r in rows}
    assert by_pid[stubs[0].pid]["gpu_mib"] == 1200.0
    assert all(by_pid[s.pid]["gpu_mib"] is None for s in stubs[1:])   # not listed: None
    # Without nvidia-smi (this machine) every figure is None, the mapping stays.
    assert [r["instance"] for r in per_stub_gpu(pid)] == [r["instance"] for r in rows]
