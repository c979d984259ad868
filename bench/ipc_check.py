"""The GPU check's first step: does CUDA IPC work on this host, and does one ensemble
request pass through the server?

python_backend moves every GPU tensor between tritonserver and its stub processes with
legacy CUDA IPC (cudaIpcGetMemHandle in one process, cudaIpcOpenMemHandle in the other). A
host whose container runtime does not allow it fails every device-to-device step, and the
server says so only in a log line. This step shows it first, in one line:

1. the probe: this process allocates 1 MiB on the device (cudaMalloc), fills it and takes
   an IPC handle of it; a second process opens the handle and checks every byte;
2. the embedded server (with serving.server.gpu_pool's CUDA memory pool, as every server here)
   answers ONE background_blur request of the astronaut over HTTP: its shape, and whether it
   equals the CPU path; python_backend's CUDA IPC messages are looked for in its log.

    python -m bench.ipc_check --out DIR [--startup-timeout 60]

writes DIR/first_request.json (the probe's part as soon as it is known) and the server's log
DIR/triton_first_request.log, and prints verdict()'s one line (bench/gpu_check.py runs it
with --no-verdict and prints that line itself).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from serving.paths import REPO_ROOT

import numpy as np

RESULT = "first_request.json"
SERVER_LOG = "triton_first_request.log"
PROBE_BYTES = 1 << 20
# python_backend r24.10's messages when CUDA IPC (or the CUDA memory pool shared through it)
# fails: src/pb_utils.cc (CUDAHandler::OpenCudaHandle / CloseCudaHandle), src/pb_stub.cc
# and src/python_be.cc / src/stub_launcher.cc (sharing the pool with a stub), and
# src/infer_response.cc (outputs fall back to per-tensor CUDA IPC).
IPC_LOG_TEXT = (
    "Failed to open the cudaIpcHandle",
    "Failed to close the cudaIpcHandle",
    "Failed to initialize CUDA shared memory pool in Python stub",
    "Failed to share CUDA memory pool with stub process",
    "will use CUDA IPC for GPU output transfer",
)
LINE_CHARS = 400


def pattern(n: int) -> np.ndarray:
    """The bytes the probe writes and checks: no two neighbours equal, no page alike."""
    return ((np.arange(n, dtype=np.uint64) * 7 + 3) % 251).astype(np.uint8)


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"


def open_and_check(handle_hex: str, n: int, device: int = 0) -> dict[str, Any]:
    """The probe's second process: open the handle (cudaIpcOpenMemHandle), copy the n bytes
    to the host, compare them with pattern(n), close it. {ok, stage, error}."""
    try:
        from cupy.cuda import runtime
        runtime.setDevice(device)
    except Exception as e:  # noqa: BLE001 - report, the parent decides
        return {"ok": False, "stage": "CUDA in the second process", "error": _error(e)}
    try:
        ptr = runtime.ipcOpenMemHandle(bytes.fromhex(handle_hex))
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "stage": "cudaIpcOpenMemHandle in the second process", "error": _error(e)}
    try:
        host = np.empty(n, np.uint8)
        runtime.memcpy(host.ctypes.data, ptr, n, runtime.memcpyDeviceToHost)
        bad = int(np.count_nonzero(host != pattern(n)))
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "stage": "reading the opened memory in the second process",
                "error": _error(e)}
    finally:
        try:
            runtime.ipcCloseMemHandle(ptr)
        except Exception:  # noqa: BLE001 - the read decides
            pass
    if bad:
        return {"ok": False, "stage": "the bytes read through cudaIpcOpenMemHandle",
                "error": f"{bad} of {n} bytes differ from what the first process wrote"}
    return {"ok": True, "stage": None, "error": None}


def probe_ipc(timeout: float = 60.0, device: int = 0) -> dict[str, Any]:
    """CUDA IPC between two processes with CuPy: {ok, no_gpu, stage, error, seconds}.
    Without a usable GPU: ok False, no_gpu True and the reason (never raises)."""
    t0 = time.monotonic()
    out: dict[str, Any] = {"ok": False, "no_gpu": False, "stage": None, "error": None,
                           "bytes": PROBE_BYTES}

    def done(**kw: Any) -> dict[str, Any]:
        out.update(kw, seconds=round(time.monotonic() - t0, 2))
        return out

    try:
        from cupy.cuda import runtime
        if runtime.getDeviceCount() < 1:
            return done(no_gpu=True, error="CuPy sees no CUDA device")
        runtime.setDevice(device)
    except Exception as e:  # noqa: BLE001 - no CuPy, no driver, no device
        return done(no_gpu=True, error=_error(e))
    ptr = 0
    try:
        try:
            # Its own cudaMalloc (not CuPy's pool): the handle is of the allocation's base.
            ptr = runtime.malloc(PROBE_BYTES)
            data = pattern(PROBE_BYTES)
            runtime.memcpy(ptr, data.ctypes.data, PROBE_BYTES, runtime.memcpyHostToDevice)
            runtime.deviceSynchronize()
        except Exception as e:  # noqa: BLE001
            return done(stage="cudaMalloc and a copy to it", error=_error(e))
        try:
            handle = bytes(runtime.ipcGetMemHandle(ptr))
        except Exception as e:  # noqa: BLE001
            return done(stage="cudaIpcGetMemHandle in the first process", error=_error(e))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--open", handle.hex(),
               str(PROBE_BYTES), str(device)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return done(stage="the second process", error=f"no answer in {timeout:.0f} s")
        try:
            child = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = " ".join((p.stdout + p.stderr).split())[-300:]
            return done(stage="the second process", error=f"exit {p.returncode}: {tail}")
        return done(**child)
    finally:
        if ptr:
            try:
                runtime.free(ptr)
            except Exception:  # noqa: BLE001
                pass


def ipc_log_lines(text: str, limit: int = 5) -> list[str]:
    """python_backend's CUDA IPC messages in a server log (IPC_LOG_TEXT), first ones, each
    stripped of whitespace runs; the same message from several instances once."""
    found: list[str] = []
    for line in text.splitlines():
        if any(t in line for t in IPC_LOG_TEXT):
            line = " ".join(line.split())
            key = line.split("] ", 1)[-1]  # without the timestamp and pid
            if all(f.split("] ", 1)[-1] != key for f in found):
                found.append(line)
                if len(found) == limit:
                    break
    return found


def first_request(out: Path, startup_timeout: float) -> dict[str, Any]:
    """One background_blur request of the astronaut over HTTP to a fresh embedded server:
    {ok, shape, expected_shape, equal_cpu, max_abs_diff, ready_s, request_s, error}."""
    from skimage import data

    from serving.server import EmbeddedServer
    from tests.helpers import infer

    img = np.ascontiguousarray(data.astronaut())
    res: dict[str, Any] = {"ok": False, "model": "background_blur", "protocol": "http",
                           "expected_shape": [1, *img.shape], "error": None}
    t0 = time.monotonic()
    try:
        with EmbeddedServer(log_path=out / SERVER_LOG, startup_timeout=startup_timeout) as s:
            res["ready_s"] = round(time.monotonic() - t0, 1)
            t1 = time.monotonic()
            o = infer(s.http_url, "http", "background_blur", {"IMAGE": img[None]}, timeout=60)
            res["request_s"] = round(time.monotonic() - t1, 2)
    except Exception as e:  # noqa: BLE001 - the verdict says what failed
        res["error"] = _error(e)
        return res
    res["shape"] = list(o["BLURRED"].shape)
    if res["shape"] != res["expected_shape"]:
        res["error"] = f"BLURRED has shape {res['shape']}, expected {res['expected_shape']}"
        return res
    try:
        from segmentation.build import DEFAULT_OUT
        from segmentation.runner import SegmentationRunner
        from tests import reference
        blurred, mask = reference.background_blur(img, SegmentationRunner(DEFAULT_OUT, device="cpu"))
        diff = max(int(np.abs(o["BLURRED"][0].astype(np.int16) - blurred).max()),
                   int(np.abs(o["MASK"][0].astype(np.int16) - mask).max()))
        res["equal_cpu"], res["max_abs_diff"] = diff == 0, diff
    except Exception as e:  # noqa: BLE001 - the CPU path is a cross-check, not the point
        res["equal_cpu"], res["cpu_path_error"] = None, _error(e)
    res["ok"] = True
    return res


def verdict(result: dict[str, Any], timed_out_after: float | None = None) -> tuple[bool, str]:
    """(passed, ONE line) from first_request.json's content: what failed, naming cudaIpc
    when it is CUDA IPC; ``timed_out_after``: the step was killed after that many seconds."""
    probe = result.get("probe") or {}
    req = result.get("request")
    logged = result.get("ipc_log") or []
    py_be = f'; python_backend logged: "{logged[0]}"' if logged else ""
    if req is None:
        req_text = (f"the background_blur request did not finish (step timed out after "
                    f"{timed_out_after:.0f} s)" if timed_out_after is not None
                    else "the background_blur request was not made")
    elif req.get("ok"):
        eq = {True: "equal to the CPU path", False: f"DIFFERS from the CPU path (max |diff| "
              f"{req.get('max_abs_diff')})", None: "CPU path not compared"}[req.get("equal_cpu")]
        req_text = (f"background_blur {'x'.join(map(str, req['shape']))} over HTTP in "
                    f"{req.get('request_s')} s, {eq}")
    else:
        req_text = f"the background_blur request failed: {req.get('error')}"
    req_ok = bool(req and req.get("ok") and req.get("equal_cpu") is not False)

    if not probe:
        ok, line = False, f"CUDA IPC NOT CHECKED: the probe did not finish; {req_text}{py_be}"
    elif probe.get("no_gpu"):
        ok, line = False, f"CUDA IPC NOT CHECKED: no usable GPU ({probe.get('error')}); {req_text}"
    elif not probe.get("ok"):
        ok, line = False, (f"CUDA IPC FAILED: {probe.get('stage')}: {probe.get('error')} (python_backend "
                           f"passes every GPU tensor between server and stubs this way); {req_text}{py_be}")
    elif not req_ok and logged:
        ok, line = False, (f"CUDA IPC FAILED in the server (the two-process probe passed): "
                           f"python_backend logged: \"{logged[0]}\"; {req_text}")
    elif not req_ok:
        ok, line = False, f"FIRST REQUEST FAILED (the CUDA IPC probe passed): {req_text}"
    else:
        ok, line = True, (f"CUDA IPC OK: cudaIpcGetMemHandle + cudaIpcOpenMemHandle across two "
                          f"processes ({probe.get('bytes', PROBE_BYTES) >> 20} MiB); {req_text}"
                          + (f'; python_backend warned: "{logged[0]}"' if logged else ""))
    return ok, line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…"


def write_result(out: Path, result: dict[str, Any]) -> None:
    """first_request.json, with the server log's CUDA IPC lines read afresh."""
    log = out / SERVER_LOG
    if log.exists():
        result["ipc_log"] = ipc_log_lines(log.read_text(errors="replace"))
    (out / RESULT).write_text(json.dumps(result, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    """The probe, then the request; 0 when both pass, 3 without a GPU, 1 otherwise."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "gpu-check")
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--no-verdict", action="store_true",
                   help="leave the one line to the caller (bench/gpu_check.py prints it, with "
                        "the server log read after the step, also when it timed out)")
    p.add_argument("--open", nargs=3, metavar=("HANDLE", "BYTES", "DEVICE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.open:  # the probe's second process: one JSON line
        print(json.dumps(open_and_check(args.open[0], int(args.open[1]), int(args.open[2]))))
        return 0
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"probe": probe_ipc()}
    write_result(out, result)
    print(f"ipc_check: probe {json.dumps(result['probe'])}", flush=True)
    result["request"] = first_request(out, args.startup_timeout)
    write_result(out, result)
    print(f"ipc_check: request {json.dumps(result['request'])}", flush=True)
    ok, line = verdict(result)
    if not args.no_verdict:
        print(line, flush=True)
    return 0 if ok else (3 if result["probe"].get("no_gpu") else 1)


if __name__ == "__main__":
    sys.exit(main())
