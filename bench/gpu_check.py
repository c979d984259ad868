"""The GPU check: everything a lent GPU machine must show, in one command, inside 8 minutes.

    python -m bench.gpu_check [--out out/gpu-check] [--budget 470] [--steps ...]   (make gpu-check)

Steps, each in its own process with its own timeout; a failing step is recorded and the
next one runs all the same:

1. ``env``      environment report (nvidia-smi, versions, CUDA driver/runtime/NVRTC, the
                device, onnxruntime's providers): env.md, env.json
   ``ipc``      bench/ipc_check.py: a CUDA IPC probe between two processes, then ONE
                background_blur request to the embedded server; what failed in one line
                (``CUDA IPC FAILED: ...``), first and in summary.md: first_request.json,
                triton_first_request.log
2. ``ops``      ``pytest -m "gpu and not server"``: every kernel against NumPy, batched and
                variable-shape, outputs poisoned: ops_tests.log, ops_tests.xml
3. ``server``   tests/integration/test_gpu_server.py on the real server: ensembles and the fused model
                byte for byte against the CPU path over HTTP and gRPC, the placement
                counters (hops.md), ensemble overhead and GPU memory over a few hundred
                requests (gpu_server.json): server_tests.log, server_tests.xml, triton_*.log
4. ``ops-bench``       bench/ops_bench.py at 1080p, batch 1 and 32, kernel times and the
                       fraction of a measured device-to-device copy: ops_<tag>.md/.json
5. ``pipeline-bench``  bench/pipeline_bench.py at 1080p, CUDA shared memory, short windows:
                       baseline vs ensemble vs fused: pipeline_<tag>.md/.csv/.png
6. summary.md: what ran, pass/fail, the key numbers against the goals (docs/gpu.md).

Without a GPU it writes the environment report, says so, and exits with status 3.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.paths import REPO_ROOT

from bench.machine import cpu_model, slug

NO_GPU_EXIT = 3
# The goals a GPU run reports against (docs/gpu.md).
GOAL_SPEEDUP = 30.0          # background_blur at 1080p vs baseline_cpu_pipeline, same run
GOAL_STEP_OVERHEAD_US = 150  # ensemble overhead per step
GOAL_COPY_FRACTION = 0.60    # memory-bound kernels vs a measured device-to-device copy
GOAL_MEMORY_GROWTH_MIB = 64  # GPU memory "flat" over a few hundred requests
# Ops whose time is dominated by moving bytes (the copy-bandwidth goal applies to these).
MEMORY_BOUND = ("resize nearest -> 2x", "pad 32 reflect101", "cvt_color rgb2gray",
                "image_to_tensor imagenet fp32", "composite")


@dataclass
class Step:
    name: str
    max_s: int          # its own timeout at most
    min_s: int          # skipped when less than this is left
    what: str
    status: str = "not run"   # pass / FAIL / timeout / skipped / not run
    seconds: float = 0.0
    note: str = ""
    files: list[str] = field(default_factory=list)


STEPS = {
    "ipc": Step("ipc", 90, 30, "CUDA IPC probe + one background_blur request (bench/ipc_check.py)"),
    "ops": Step("ops", 150, 40, 'pytest -m "gpu and not server" (kernels vs NumPy)'),
    "server": Step("server", 150, 60, "tests/integration/test_gpu_server.py on the real server"),
    "ops-bench": Step("ops-bench", 70, 30, "bench/ops_bench.py, 1080p, batch 1 and 32"),
    "pipeline-bench": Step("pipeline-bench", 160, 60,
                           "bench/pipeline_bench.py, 1080p, CUDA shared memory"),
}


# -- environment ----------------------------------------------------------------------
def _run(cmd: list[str] | str, timeout: float = 30, **kw: Any) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           shell=isinstance(cmd, str), **kw)
        return (p.stdout + p.stderr).strip()
    except FileNotFoundError:
        return f"(not found: {cmd if isinstance(cmd, str) else cmd[0]})"
    except subprocess.TimeoutExpired:
        return f"(timed out after {timeout:.0f} s)"


def _version(module: str, dist: str | None = None) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - report, never fail the report
        return f"not importable ({type(e).__name__}: {str(e)[:120]})"
    version = getattr(mod, "__version__", None)
    if version is None and dist:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version(dist)
        except Exception:  # noqa: BLE001
            pass
    return f"{version or '?'} ({Path(getattr(mod, '__file__', '') or '?').parent})"


def cuda_report() -> dict[str, Any]:
    """CUDA as CuPy sees it; ``gpu`` is None when usable, else why not."""
    out: dict[str, Any] = {"gpu": None}
    try:
        import cupy
        rt = cupy.cuda.runtime
        n = rt.getDeviceCount()
        if n < 1:
            return {"gpu": "CuPy sees no CUDA device"}
        out["device_count"] = n
        v = rt.driverGetVersion()
        out["driver_cuda"] = f"{v // 1000}.{v % 1000 // 10}"
        v = rt.runtimeGetVersion()
        out["runtime_cuda"] = f"{v // 1000}.{v % 1000 // 10}"
        try:
            major, minor = cupy.cuda.nvrtc.getVersion()
            out["nvrtc"] = f"{major}.{minor}"
        except Exception as e:  # noqa: BLE001
            out["nvrtc"] = f"unavailable ({type(e).__name__}: {str(e)[:120]})"
        p = rt.getDeviceProperties(0)
        out["device"] = p["name"].decode() if isinstance(p["name"], bytes) else str(p["name"])
        out["sm"] = f"{p['major']}.{p['minor']}"
        out["memory_gib"] = round(p["totalGlobalMem"] / 2**30, 1)
        out["multiprocessors"] = p.get("multiProcessorCount")
        out["l2_mib"] = round(p.get("l2CacheSize", 0) / 2**20, 1)
        free, total = rt.memGetInfo()
        out["memory_free_gib"] = round(free / 2**30, 1)
        # A real allocation and a kernel: CUDA is usable, not only present. (Integers: a
        # float32 sum this large depends on the reduction's order.)
        x = cupy.arange(1 << 20, dtype=cupy.int64)
        assert int((x * 2).sum()) == (1 << 20) * ((1 << 20) - 1)
    except Exception as e:  # noqa: BLE001 - any failure means no usable GPU
        out["gpu"] = f"CUDA unusable from CuPy ({type(e).__name__}: {str(e).strip()[:300]})"
    return out


def onnxruntime_report() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        import onnxruntime as ort
        out["version"] = ort.__version__
        out["available_providers"] = ort.get_available_providers()
        out["device"] = ort.get_device()
        from segmentation.build import DEFAULT_OUT
        from segmentation.runner import SegmentationRunner
        if DEFAULT_OUT.exists():
            runner = SegmentationRunner(DEFAULT_OUT, device="auto")
            out["unet_session_providers"] = runner.providers
            out["unet_cpu_because"] = getattr(runner, "fallback_reason", None)
        else:
            out["unet_session_providers"] = f"(model missing: {DEFAULT_OUT})"
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {str(e)[:300]}"
    return out


def triton_report() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        from serving.server.install import stub_path, triton_root
        root = triton_root(required=False)
        if root is None:
            return {"error": "pytriton (tritonserver) not importable"}
        out["root"] = str(root)
        ver = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = root / "python_backend_stubs" / ver / "triton_python_backend_stub"
        out["stub"] = str(stub) if stub.exists() else f"(no stub for Python {ver})"
        if stub.exists():
            ldd = _run(["ldd", str(stub)])
            out["stub_libpython"] = next((l.strip() for l in ldd.splitlines() if "libpython" in l),
                                         "(no libpython line in ldd)")
            out["stub_missing_libs"] = [l.split()[0] for l in ldd.splitlines() if "not found" in l]
        out["installed_stub"] = stub_path(root).exists()
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {str(e)[:300]}"
    try:
        from clients.perf.install import BINARY, LIBDIR, perf_env
        out["perf_analyzer"] = str(BINARY) if BINARY.exists() else f"(missing: {BINARY})"
        if BINARY.exists():
            ldd = _run(["ldd", str(BINARY)], env=perf_env())
            out["perf_analyzer_missing_libs"] = [l.split()[0] for l in ldd.splitlines() if "not found" in l]
        out["perf_lib"] = str(LIBDIR)
    except Exception as e:  # noqa: BLE001
        out["perf_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    return out


def environment() -> dict[str, Any]:
    cpu = cpu_model()
    mem = ""
    try:
        kb = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines()
                      if l.startswith("MemTotal")))
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    env: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "os": platform.platform(), "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "python": f"{platform.python_version()} ({sys.executable})",
        "versions": {m: _version(m, d) for m, d in (
            ("numpy", None), ("cupy", None), ("onnxruntime", None), ("cv2", None), ("skimage", None),
            ("tritonclient", "tritonclient"), ("google.protobuf", "protobuf"), ("grpc", None),
            ("pytest", None), ("yaml", None))},
        "git": _run(["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h %s"]),
        "nvidia_smi_L": _run(["nvidia-smi", "-L"]),
        "nvidia_smi_query": _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                                  "memory.used,clocks.max.sm,power.limit", "--format=csv"]),
        "nvidia_smi": _run(["nvidia-smi"]),
    }
    env["cuda"] = cuda_report()
    if not env["cuda"].get("gpu"):
        # serving.server.preflight: every kernel compiles for the device (warms CuPy's kernel cache),
        # and whether onnxruntime's CUDA provider really runs (it FAILs on a CPU build).
        env["preflight"] = _run([sys.executable, "-m", "serving.server.preflight"], timeout=120, cwd=REPO_ROOT)
    env["onnxruntime"] = onnxruntime_report()
    env["triton"] = triton_report()
    return env


def device_name(env: dict[str, Any]) -> str:
    return env["cuda"].get("device") or "no GPU"


def device_tag(env: dict[str, Any]) -> str:
    """A folder/file name for the device, e.g. 'nvidia-h100-80gb-hbm3'."""
    return slug(device_name(env)) or "no-gpu"


def env_markdown(env: dict[str, Any]) -> str:
    c, o, t = env["cuda"], env["onnxruntime"], env["triton"]
    lines = ["# Environment", "", f"- date: {env['date']}", f"- host: {env['host']} ({env['os']})",
             f"- CPU: {env['cpu']}, memory {env['memory']}", f"- Python: {env['python']}",
             f"- checkout: {env['git']}", "",
             "## GPU", ""]
    if c.get("gpu"):
        lines.append(f"**No usable GPU**: {c['gpu']}")
    else:
        lines += [f"- device: {c['device']} (SM {c['sm']}, {c['multiprocessors']} SMs, "
                  f"{c['memory_gib']} GiB, {c['memory_free_gib']} GiB free, L2 {c['l2_mib']} MiB), "
                  f"{c['device_count']} device(s)",
                  f"- CUDA driver {c['driver_cuda']}, runtime (CuPy) {c['runtime_cuda']}, "
                  f"NVRTC {c['nvrtc']}"]
    lines += ["", "## Versions", ""] + [f"- {k}: {v}" for k, v in env["versions"].items()]
    lines += ["", "## onnxruntime", ""] + [f"- {k}: {v}" for k, v in o.items()]
    lines += ["", "## tritonserver / perf_analyzer", ""] + [f"- {k}: {v}" for k, v in t.items()]
    if "preflight" in env:
        lines += ["", "## python -m serving.server.preflight", "", "```", env["preflight"], "```"]
    lines += ["", "## nvidia-smi", "", "```", env["nvidia_smi_L"], "", env["nvidia_smi_query"], "",
              env["nvidia_smi"], "```", ""]
    return "\n".join(lines)


# -- steps ----------------------------------------------------------------------------
def run_step(step: Step, cmd: list[str], out: Path, log_name: str, timeout: float,
             env: dict[str, str] | None = None) -> int | None:
    """Run cmd with its own process group; stdout+stderr to out/log_name (and echoed).
    Returns the exit code, or None on timeout (the whole group is killed)."""
    log_path = out / log_name
    step.files.append(log_name)
    start = time.monotonic()
    print(f"\n=== [{step.name}] {' '.join(cmd)}  (timeout {timeout:.0f} s)", flush=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        deadline = start + timeout
        rc: int | None = None
        try:
            import selectors
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(cmd, timeout)
                if sel.select(timeout=min(left, 1.0)):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    log.write(chunk)
                    log.flush()
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.flush()
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            msg = f"\n[gpu_check] {step.name}: timed out after {timeout:.0f} s, killed\n".encode()
            log.write(msg)
            sys.stdout.buffer.write(msg)
            _kill_group(proc)
            rc = None
    step.seconds += time.monotonic() - start
    return rc


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def junit_counts(path: Path) -> dict[str, int]:
    """tests / failures / errors / skipped from a pytest junit XML (zeros when absent)."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return counts
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        for k in counts:
            counts[k] += int(suite.get(k, 0))
    return counts


def junit_cases(path: Path) -> list[dict[str, str]]:
    """Every test case that did not pass: {id, kind (failure/error/skipped), message}."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    out = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error", "skipped"):
            el = case.find(kind)
            if el is not None:
                out.append({"id": f"{case.get('classname', '')}::{case.get('name', '')}", "kind": kind,
                            "message": " ".join((el.get("message") or el.text or "").split())[:300]})
    return out


# conftest's reason for skipping a GPU test: CUDA unusable in that process (never expected here).
# Tests that need onnxruntime on CUDA (marked ort_cuda) skip with their own reason where this
# onnxruntime cannot use it (the lent machine's CPU build): a skip, not a failure, to explain.
GPU_SKIP = re.compile(r"GPU test:")


def junit_failures(path: Path, limit: int = 12) -> list[str]:
    """One line per failed test, and one line for all the GPU tests that skipped for want
    of CUDA."""
    out, gpu_skips = [], []
    for c in junit_cases(path):
        if c["kind"] == "skipped":
            if GPU_SKIP.search(c["message"]):
                gpu_skips.append(c)
            continue
        out.append(f"{c['id']}: {c['kind']}: {c['message'][:200]}")
    out = out[:limit]
    if gpu_skips:
        out.append(f"{len(gpu_skips)} GPU tests of {path.stem} skipped: {gpu_skips[0]['message'][:160]}")
    return out


def pytest_step(step: Step, out: Path, stem: str, args: list[str], timeout: float,
                extra_env: dict[str, str] | None = None) -> None:
    """pytest into out/stem.log and stem.xml."""
    xml = out / f"{stem}.xml"
    step.files.append(xml.name)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra",
           f"--junitxml={xml}", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    rc = run_step(step, cmd, out, f"{stem}.log", timeout, env)
    c = junit_counts(xml)
    cases = junit_cases(xml)
    failed = [k for k in cases if k["kind"] != "skipped"]
    gpu_skips = [k for k in cases if k["kind"] == "skipped" and GPU_SKIP.search(k["message"])]
    passed = c["tests"] - c["failures"] - c["errors"] - c["skipped"]
    step.note = (f"{passed} passed, {c['failures']} failed, {c['errors']} errors, "
                 f"{c['skipped']} skipped")
    if rc is None:
        step.status = "timeout"
    elif c["tests"] > 0 and not failed and not gpu_skips and rc in (0, 1):
        step.status = "pass"
    else:
        step.status = "FAIL"
        if gpu_skips:
            step.note += (f" ({len(gpu_skips)} GPU tests skipped because CUDA was unusable in "
                          f"pytest: a failure here)")
        if rc not in (0, 1):
            step.note += f"; pytest exit {rc}"


def ipc_step(step: Step, out: Path, timeout: float) -> None:
    """bench/ipc_check.py in its own process; its verdict (one line, ipc_check.verdict)
    printed, kept in first_request.json and the step's note. A step killed on its timeout
    still gets a verdict from what it had written (the probe) and the server's log."""
    from bench import ipc_check

    (out / ipc_check.RESULT).unlink(missing_ok=True)
    startup = max(20.0, timeout - 30.0)  # the probe and the request fit in the rest
    cmd = [sys.executable, "-m", "bench.ipc_check", "--out", str(out), "--startup-timeout", f"{startup:.0f}",
           "--no-verdict"]
    rc = run_step(step, cmd, out, "ipc_check.log", timeout, {**os.environ, "PYTHONUNBUFFERED": "1"})
    result = _read_json(out / ipc_check.RESULT) or {}
    ok, line = ipc_check.verdict(result, None if rc is not None else timeout)
    result["verdict"] = line
    ipc_check.write_result(out, result)
    step.files += [ipc_check.RESULT, ipc_check.SERVER_LOG]
    step.status = "pass" if ok and rc == 0 else ("timeout" if rc is None else "FAIL")
    step.note = line.split(":")[0]  # the line itself heads summary.md
    print(f"\n{line}\n", flush=True)


def ops_step(step: Step, out: Path, timeout: float) -> None:
    pytest_step(step, out, "ops_tests", ["-m", "gpu and not server", "tests"], timeout)


def server_step(step: Step, out: Path, timeout: float) -> None:
    pytest_step(step, out, "server_tests", ["-m", "gpu and server", "tests/integration/test_gpu_server.py"],
                timeout, {"TVO_GPU_CHECK_OUT": str(out)})
    for name in ("hops.md", "gpu_server.json", "triton_gpu_server.log"):
        if (out / name).exists():
            step.files.append(name)


def ops_bench_step(step: Step, out: Path, timeout: float, tag: str) -> None:
    cmd = [sys.executable, "-m", "bench.ops_bench", "--sizes", "1080p", "--batches", "1", "32",
           "--no-cpu", "--tag", tag, "--out-dir", str(out)]
    rc = run_step(step, cmd, out, "ops_bench.log", timeout, {**os.environ, "PYTHONUNBUFFERED": "1"})
    step.files += [f"ops_{tag}.md", f"ops_{tag}.json"]
    step.status = "timeout" if rc is None else ("pass" if rc == 0 else "FAIL")
    if rc not in (0, None):
        step.note = f"exit {rc}"


def pipeline_bench_step(step: Step, out: Path, timeout: float, tag: str, shm: str = "cuda") -> None:
    cmd = [sys.executable, "-m", "bench.pipeline_bench", "--workloads", "1080p", "--protocol", "grpc",
           "--shm", shm, "--concurrency", "1", "8", "--measurement-ms", "1500", "--max-trials", "5",
           "--variants", "background_blur+downscale:4:int", "--tag", tag, "--out-dir", str(out)]
    start = time.monotonic()
    rc = run_step(step, cmd, out, f"pipeline_bench_{shm}.log", timeout,
                  {**os.environ, "PYTHONUNBUFFERED": "1"})
    step.files += [f"pipeline_{tag}.md", f"pipeline_{tag}.csv", f"pipeline_{tag}.png"]
    step.status = "timeout" if rc is None else ("pass" if rc == 0 else "FAIL")
    step.note = f"shm {shm}" + ("" if rc in (0, None) else f", exit {rc}")
    left = timeout - (time.monotonic() - start)
    # Any failure of the CUDA shared-memory run is retried with system shared memory: its
    # log (every line names shm=cuda) cannot tell a CUDA IPC problem from another one, and
    # the second run's outcome can.
    if rc not in (0, None) and shm == "cuda" and left > 60:
        print("[gpu_check] pipeline-bench with CUDA shared memory failed; again with system "
              "shared memory", flush=True)
        pipeline_bench_step(step, out, left, tag, "system")
        step.note = "CUDA shared memory failed (pipeline_bench_cuda.log); " + step.note


# -- summary --------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pipeline_numbers(out: Path, tag: str) -> dict[str, dict[str, Any]]:
    """model -> its best row by pipeline_bench.summarize (one workload, 1080p), with the
    shared-memory setting of the run."""
    import csv

    from bench.pipeline_bench import summarize
    try:
        rows = list(csv.DictReader((out / f"pipeline_{tag}.csv").open()))
    except OSError:
        return {}
    shm = {r["model"]: r.get("shm") for r in rows}
    return {s["model"]: {**s, "shm": shm[s["model"]]}
            for s in summarize(rows, list(dict.fromkeys(r["model"] for r in rows)))}


def summary_markdown(env: dict[str, Any], steps: list[Step], out: Path, tag: str,
                     started: float) -> str:
    c = env["cuda"]
    dev = device_name(env)
    lines = [f"# GPU check: {dev}", "",
             f"{env['date']}, {env['host']}, checkout {env['git']}; "
             f"{time.monotonic() - started:.0f} s in all.", ""]
    if not c.get("gpu"):
        lines += [f"Device: **{dev}**, SM {c['sm']}, {c['memory_gib']} GiB; CUDA driver "
                  f"{c['driver_cuda']}, runtime {c['runtime_cuda']}, NVRTC {c['nvrtc']}; "
                  f"CPU {env['cpu']}.",
                  f"onnxruntime {env['onnxruntime'].get('version')}: the unet session runs on "
                  f"{env['onnxruntime'].get('unet_session_providers')}.", ""]
    first = (_read_json(out / "first_request.json") or {}).get("verdict")
    if first and any(s.name == "ipc" for s in steps):
        lines += [f"**{first}**", ""]
    lines += ["| step | what | result | time | notes |", "|---|---|---|---|---|"]
    for s in steps:
        lines.append(f"| {s.name} | {s.what} | {s.status} | {s.seconds:.0f} s | {s.note.replace('|', '/')} |")
    failures = []
    for stem in ("ops_tests", "server_tests"):
        failures += junit_failures(out / f"{stem}.xml")
    if failures:
        lines += ["", "## Failed tests", ""] + [f"- {f}" for f in failures]

    if c.get("gpu"):
        lines += ["", f"**No GPU**: {c['gpu']}", ""]
        if len(steps) == 1:
            return "\n".join(lines)
    goals = ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    # Throughput ratio.
    best = _pipeline_numbers(out, tag)
    base = best.get("baseline_cpu_pipeline")
    for model in ("background_blur", "background_blur_fused", "background_blur+downscale:4:int"):
        r = best.get(model)
        if r and base:
            ratio = r["x_baseline"]
            goals.append(f"| {model} at 1080p ≥ {GOAL_SPEEDUP:g}× baseline_cpu_pipeline "
                         f"(same run) | {r['best_infer_per_s']:.1f} vs "
                         f"{base['best_infer_per_s']:.1f} infer/s = {ratio:.1f}× "
                         f"(concurrency {r['at_concurrency']}, shm {r['shm']}) | "
                         f"{'yes' if ratio >= GOAL_SPEEDUP else 'NO'} |")
    if not base:
        goals.append(f"| background_blur at 1080p ≥ {GOAL_SPEEDUP:g}× baseline | not measured | ? |")
    # Overhead and memory from the server tests.
    srv = _read_json(out / "gpu_server.json") or {}
    ov = srv.get("overhead")
    if ov:
        goals.append(f"| ensemble overhead ≤ {GOAL_STEP_OVERHEAD_US} µs per step | "
                     f"{ov['per_step_us']:.0f} µs per step ({ov['steps']} steps; ensemble "
                     f"{ov['ensemble_us']:.0f} µs, steps' compute {ov['steps_compute_us']:.0f} µs, "
                     f"queue {ov['steps_queue_us']:.0f} µs; fused {ov.get('fused_us', 0):.0f} µs; "
                     f"concurrency 1, 1080p) | "
                     f"{'yes' if ov['per_step_us'] <= GOAL_STEP_OVERHEAD_US else 'NO'} |")
    else:
        goals.append(f"| ensemble overhead ≤ {GOAL_STEP_OVERHEAD_US} µs per step | not measured | ? |")
    mem = srv.get("memory")
    if mem:
        cached = mem.get("cupy_cached_mib")
        besides = (f" besides the CuPy caches, {cached['after_warmup']:.0f} → "
                   f"{cached['after_run']:.0f} MiB; raw {mem['raw_growth_mib']:+.0f} MiB" if cached else "")
        goals.append(f"| GPU memory flat over {mem['requests']} requests | "
                     f"{mem['before_mib']:.0f} → {mem['after_mib']:.0f} MiB "
                     f"({mem['growth_mib']:+.0f} MiB{besides}, {mem['source']}) | "
                     f"{'yes' if mem['growth_mib'] <= GOAL_MEMORY_GROWTH_MIB else 'NO'} |")
    else:
        goals.append("| GPU memory flat | not measured | ? |")
    ops_rows = _read_json(out / f"ops_{tag}.json") or []
    mb = [r for r in ops_rows if r.get("op") in MEMORY_BOUND and "of_copy_bw" in r]
    if mb:
        worst = min(mb, key=lambda r: r["of_copy_bw"])
        met = all(r["of_copy_bw"] >= GOAL_COPY_FRACTION for r in mb if r["batch"] > 1)
        goals.append(f"| memory-bound kernels ≥ {GOAL_COPY_FRACTION:.0%} of D2D copy (batch 32) | "
                     + ", ".join(f"{r['op']} {r['of_copy_bw']:.0%}" for r in mb if r["batch"] > 1)
                     + f" (lowest at any batch: {worst['op']} batch {worst['batch']} "
                       f"{worst['of_copy_bw']:.0%}) | {'yes' if met else 'NO'} |")
    else:
        goals.append(f"| memory-bound kernels ≥ {GOAL_COPY_FRACTION:.0%} of copy bandwidth | not measured | ? |")
    lines += goals
    if mem and mem.get("per_stub"):
        lines += [""] + per_stub_table(mem["per_stub"], mem.get("pools") or {})
    hops = out / "hops.md"
    if hops.exists():
        lines += ["", hops.read_text().strip()]
    lines += ["", "Files: " + ", ".join(sorted({f for s in steps for f in s.files if (out / f).exists()}
                                                | {"env.md", "env.json", "summary.md"})), ""]
    return "\n".join(lines)


def per_stub_table(per_stub: dict[str, list[dict[str, Any]]],
                   pools: dict[str, dict[str, dict[str, float]]] | None = None) -> list[str]:
    """The GPU memory of each server process (tritonserver, then one stub per model
    instance, each with its own CUDA context) after the warm-up and after the run, from
    gpu_server.json's memory.per_stub, and of it each GPU instance's CuPy pool after the run
    (memory.pools: used in arrays, cached for reuse; serving/device.py)."""
    warm, after = per_stub.get("after_warmup") or [], per_stub.get("after_run") or []
    rows: dict[int, dict[str, Any]] = {}
    for when, snapshot in (("warm", warm), ("after", after)):
        for r in snapshot:
            row = rows.setdefault(r["pid"], {"instance": r["instance"], "model": r.get("model") or "-"})
            row[when] = r.get("gpu_mib")

    def mib(v: Any) -> str:
        return "-" if v is None else f"{v:.0f}"

    after_pools = (pools or {}).get("after_run") or {}

    def pool(instance: str, state: str) -> str:
        v = after_pools.get(instance, {}).get(state)
        return mib(None if v is None else v / 2**20)

    lines = ["## GPU memory per server process (nvidia-smi --query-compute-apps)", "",
             "| instance | model | pid | after warm-up MiB | after the run MiB | of it CuPy used / cached MiB |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['instance']} | {r['model']} | {pid} | {mib(r.get('warm'))} | {mib(r.get('after'))} | "
              f"{pool(r['instance'], 'used')} / {pool(r['instance'], 'cached')} |"
              for pid, r in rows.items()]
    stubs = [v for r in after if r["instance"] != "tritonserver" and (v := r.get("gpu_mib")) is not None]
    n_stubs = sum(1 for r in after if r["instance"] != "tritonserver")
    lines.append("")
    if stubs:
        lines.append(f"{len(stubs)} of {n_stubs} stub processes hold GPU memory: {sum(stubs):.0f} MiB "
                     f"in all, {sum(stubs) / len(stubs):.0f} MiB each on average, "
                     f"{max(stubs):.0f} MiB the most.")
    else:
        lines.append(f"nvidia-smi listed none of the {n_stubs} stub processes (no per-process "
                     f"figures: no GPU, or nvidia-smi sees another PID namespace).")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "gpu-check")
    p.add_argument("--budget", type=float, default=470, help="seconds for all steps together")
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    p.add_argument("--tag", help="names the benchmark files (default: the device)")
    p.add_argument("--rehearse", action="store_true",
                   help="run every step even without a GPU (rehearses the orchestration, "
                        "timeouts and summary on a CPU machine; its results mean nothing)")
    args = p.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    print("=== [env] environment report", flush=True)
    env = environment()
    (out / "env.json").write_text(json.dumps(env, indent=1, default=str))
    (out / "env.md").write_text(env_markdown(env))
    print(env_markdown(env), flush=True)
    env_step = Step("env", 0, 0, "environment report", "pass", time.monotonic() - started,
                    "", ["env.md", "env.json"])
    if env["cuda"].get("gpu") and not args.rehearse:
        msg = (f"NO GPU: {env['cuda']['gpu']}. The GPU check needs a CUDA device; only the "
               f"environment report was written ({out / 'env.md'}).")
        env_step.note = msg
        (out / "summary.md").write_text(summary_markdown(env, [env_step], out, "none", started))
        print(f"\n{msg}", file=sys.stderr, flush=True)
        return NO_GPU_EXIT

    tag = args.tag or device_tag(env)
    steps = [env_step]
    chosen = [STEPS[s] for s in STEPS if s in args.steps]
    for i, step in enumerate(chosen):
        steps.append(step)
        left = deadline - time.monotonic()
        reserve = sum(s.min_s for s in chosen[i + 1:])
        timeout = min(step.max_s, left - reserve)
        if timeout < step.min_s:
            step.status, step.note = "skipped", f"no time left ({left:.0f} s in the budget)"
            continue
        try:
            if step.name == "ipc":
                ipc_step(step, out, timeout)
            elif step.name == "ops":
                ops_step(step, out, timeout)
            elif step.name == "server":
                server_step(step, out, timeout)
            elif step.name == "ops-bench":
                ops_bench_step(step, out, timeout, tag)
            elif step.name == "pipeline-bench":
                pipeline_bench_step(step, out, timeout, tag)
        except Exception as e:  # noqa: BLE001 - record and go on
            step.status, step.note = "FAIL", f"gpu_check: {type(e).__name__}: {e}"
        print(f"=== [{step.name}] {step.status} in {step.seconds:.0f} s {step.note}", flush=True)
        (out / "summary.md").write_text(summary_markdown(env, steps, out, tag, started))

    summary = summary_markdown(env, steps, out, tag, started)
    (out / "summary.md").write_text(summary)
    print("\n" + summary, flush=True)
    ok = all(s.status == "pass" for s in steps)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
