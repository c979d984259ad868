"""The GPU check's own logic on a CPU machine: it stops after the environment report when
there is no GPU, and its summary reads the results a GPU run writes (docs/gpu.md)."""
import json
import subprocess

import pytest

from clients.perf.sweep import concurrency_ranges
from tests.helpers import cuda_reason

from bench import gpu_check

from serving.paths import REPO_ROOT as ROOT


@pytest.mark.skipif(cuda_reason() is None, reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_and_fails(tmp_path, bench_module):
    p = bench_module("gpu_check", "--out", str(tmp_path))
    assert p.returncode == gpu_check.NO_GPU_EXIT, p.stdout[-2000:] + p.stderr[-2000:]
    assert "NO GPU" in p.stderr
    env = (tmp_path / "env.md").read_text()
    assert "No usable GPU" in env and "## Versions" in env and "## onnxruntime" in env
    assert "No GPU" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "env.json").read_text())["cuda"]["gpu"]
    assert not (tmp_path / "ops_tests.log").exists()  # nothing after the report


def test_summary_reads_a_gpu_run(tmp_path):
    env = {"date": "d", "host": "h", "git": "abc x", "cpu": "cpu, 16 cores",
           "cuda": {"gpu": None, "device": "NVIDIA H100 80GB HBM3", "sm": "9.0", "memory_gib": 79.2,
                    "driver_cuda": "13.0", "runtime_cuda": "13.0", "nvrtc": "13.0"},
           "onnxruntime": {"version": "1.30.0", "unet_session_providers": ["CPUExecutionProvider"]}}
    tag = gpu_check.device_tag(env)
    assert tag == "nvidia-h100-80gb-hbm3"
    (tmp_path / f"pipeline_{tag}.csv").write_text(
        "model,workload,protocol,shm,Concurrency,Inferences/Second,p99 latency\n"
        "baseline_cpu_pipeline,1080p,grpc,cuda,1,10.0,1\nbaseline_cpu_pipeline,1080p,grpc,cuda,8,12.0,1\n"
        "background_blur,1080p,grpc,cuda,8,400.0,1\nbackground_blur_fused,1080p,grpc,cuda,8,300.0,1\n")
    (tmp_path / f"ops_{tag}.json").write_text(json.dumps([
        {"op": "pad 32 reflect101", "size": "1080p", "batch": 32, "of_copy_bw": 0.7},
        {"op": "composite", "size": "1080p", "batch": 32, "of_copy_bw": 0.5},
        {"op": "gaussian_blur sigma 8", "size": "1080p", "batch": 32, "of_copy_bw": 0.1}]))
    (tmp_path / "gpu_server.json").write_text(json.dumps({
        "overhead": {"per_step_us": 120.0, "steps": 7, "ensemble_us": 5000.0, "steps_compute_us": 4160.0,
                     "steps_queue_us": 300.0, "fused_us": 4000.0},
        "memory": {"requests": 300, "before_mib": 1000.0, "after_mib": 1302.0, "growth_mib": 2.0,
                   "raw_growth_mib": 302.0, "cupy_cached_mib": {"after_warmup": 0.0, "after_run": 300.0},
                   "pools": {"after_run": {"blur_0": {"used": 0.0, "cached": 300 * 2.0**20}}},
                   "source": "server_processes_mib",
                   "per_stub": {"after_warmup": [
                       {"pid": 10, "instance": "tritonserver", "model": "", "gpu_mib": 900.0},
                       {"pid": 11, "instance": "blur_0", "model": "blur", "gpu_mib": 1100.0},
                       {"pid": 12, "instance": "unet_0", "model": "unet", "gpu_mib": None}],
                                "after_run": [
                       {"pid": 10, "instance": "tritonserver", "model": "", "gpu_mib": 902.0},
                       {"pid": 11, "instance": "blur_0", "model": "blur", "gpu_mib": 1300.0},
                       {"pid": 12, "instance": "unet_0", "model": "unet", "gpu_mib": 500.0}]}}}))
    (tmp_path / "hops.md").write_text("## Placement\n\ntable")
    steps = [gpu_check.Step("env", 0, 0, "environment report", "pass"),
             gpu_check.Step("ops", 1, 1, "kernels", "FAIL", 3.0, "1 failed")]
    md = gpu_check.summary_markdown(env, steps, tmp_path, tag, 0.0)
    assert md.startswith("# GPU check: NVIDIA H100 80GB HBM3")
    assert "400.0 vs 12.0 infer/s = 33.3×" in md                    # best vs best, same run
    assert "= 25.0×" in md and "| NO |" in md                       # the fused model misses 30×
    assert "120 µs per step" in md
    assert "1000 → 1302 MiB (+2 MiB besides the CuPy caches, 0 → 300 MiB; raw +302 MiB" in md
    assert "pad 32 reflect101 70%, composite 50%" in md             # memory-bound ops only
    assert "| ops | kernels | FAIL | 3 s | 1 failed |" in md
    assert "## Placement" in md
    # One row per server process, by instance, after the warm-up and after the run.
    assert "| blur_0 | blur | 11 | 1100 | 1300 | 0 / 300 |" in md
    assert "| tritonserver | - | 10 | 900 | 902 | - / - |" in md
    assert "| unet_0 | unet | 12 | - | 500 | - / - |" in md                  # not listed after the warm-up
    assert "2 of 2 stub processes hold GPU memory: 1800 MiB in all, 900 MiB each on average, " \
           "1300 MiB the most." in md


def test_per_stub_table_without_per_process_figures():
    rows = [{"pid": 10, "instance": "tritonserver", "model": "", "gpu_mib": None},
            {"pid": 11, "instance": "blur_0", "model": "blur", "gpu_mib": None}]
    table = gpu_check.per_stub_table({"after_warmup": rows, "after_run": rows})
    assert "| blur_0 | blur | 11 | - | - | - / - |" in table
    assert table[-1].startswith("nvidia-smi listed none of the 1 stub processes")


def test_junit_counts(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text('<testsuites><testsuite tests="5" failures="2" errors="0" skipped="2">'
                   '<testcase classname="t" name="a"><failure message="boom">x</failure></testcase>'
                   '<testcase classname="t" name="b"><failure message="onnxruntime CUDAExecutionProvider '
                   'is not active"/></testcase>'
                   '<testcase classname="t" name="c"><skipped message="needs two GPUs"/></testcase>'
                   '<testcase classname="t" name="d"><skipped message="GPU test: CUDA unavailable"/>'
                   '</testcase></testsuite></testsuites>')
    assert gpu_check.junit_counts(xml) == {"tests": 5, "failures": 2, "errors": 0, "skipped": 2}
    assert gpu_check.junit_failures(xml) == [
        "t::a: failure: boom",
        "t::b: failure: onnxruntime CUDAExecutionProvider is not active",
        "1 GPU tests of j skipped: GPU test: CUDA unavailable"]  # a skip for another reason is fine
    assert gpu_check.junit_counts(tmp_path / "missing.xml")["tests"] == 0


def test_concurrency_ranges_run_exactly_the_levels_asked():
    assert concurrency_ranges([1, 2, 3, 4]) == [(1, 4, 1)]
    assert concurrency_ranges([1, 8]) == [(1, 8, 7)]
    assert concurrency_ranges([4]) == [(4, 4, 1)]
    assert concurrency_ranges([1, 2, 4]) == [(1, 1, 1), (2, 2, 1), (4, 4, 1)]
    with pytest.raises(ValueError):
        concurrency_ranges([0, 1])


def test_the_route_scripts_parse_and_agree_with_the_docs():
    """bench/gpu/*.sh are valid bash; docs/gpu.md and run.sh name the same call; what the call
    carries is git-ignored (so it is not counted twice) and is what setup.sh reads."""
    for sh in sorted((ROOT / "bench" / "gpu").glob("*.sh")):
        r = subprocess.run(["bash", "-n", str(sh)], capture_output=True, text=True)
        assert r.returncode == 0, f"{sh.name}: {r.stderr}"
    docs = " ".join((ROOT / "docs" / "gpu.md").read_text().split())
    assert ('run(command="bash bench/gpu/run.sh", carry=[".gpu", "model_repository/unet/1/model.onnx"], '
            'timeout_s=570)') in docs
    assert ('run(command="bash bench/gpu/run.sh", carry=[".gpu", "model_repository/unet/1/model.onnx"], '
            'timeout_s=570)') in (ROOT / "bench" / "gpu" / "run.sh").read_text()
    r = subprocess.run(["git", "check-ignore", ".gpu/carry.tar.xz", "model_repository/unet/1/model.onnx"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.split() == [".gpu/carry.tar.xz", "model_repository/unet/1/model.onnx"]
    assert ".gpu/carry.tar.xz" in (ROOT / "bench" / "gpu" / "setup.sh").read_text()


def test_the_placement_expected_on_a_gpu_server():
    """The hop rule test_gpu_server.py applies on a GPU, checked here on synthetic counters."""
    from tests.integration.test_gpu_server import STEP, expected_placement, placement_mismatches, step_hops_table

    def delta(dnn_on_cpu):
        return {(*k, *v): 1 for k, v in expected_placement(dnn_on_cpu).items()}

    for dnn_on_cpu in (False, True):
        assert placement_mismatches(delta(dnn_on_cpu), dnn_on_cpu) == ({}, {})
    hops = [k for k, v in expected_placement(True).items() if v[1] != "none"]
    t2m = STEP["tensor_to_mask"]  # the step copy with the pipeline's parameters
    assert sorted(hops) == sorted([(t2m, "in", "PROB"), ("unet", "in", "INPUT"), ("upload", "in", "IMAGE")])
    # A full CUDA memory pool hands blur a host MASK: caught, and named.
    d = delta(False)
    del d[("blur", "in", "MASK", "device", "none")]
    d[("blur", "in", "MASK", "host", "upload")] = 1
    mismatches, unexpected = placement_mismatches(d, False)
    assert mismatches == {("blur", "in", "MASK"): (("host", "upload"), ("device", "none"))}
    assert not unexpected
    # The DNN on the CPU but counted as if on the GPU: the boundary hops are reported.
    assert set(placement_mismatches(delta(True), False)[0]) == {
        ("unet", "in", "INPUT"), ("unet", "out", "OUTPUT"), (t2m, "in", "PROB")}
    table = step_hops_table(delta(True), {"unet": "cpu (the DNN runs on the CPU)"}, True)
    assert "| unet | cpu (the DNN runs on the CPU) | 1 | 1 | INPUT download x1 |" in table
    assert "| blur | ? | 0 | 0 | - |" in table


# -- the first step: CUDA IPC probe and one request (bench/ipc_check.py) ----------------
from bench import ipc_check  # noqa: E402


@pytest.mark.skipif(cuda_reason() is None, reason="this machine has a GPU")
def test_the_ipc_probe_without_a_gpu_says_so(bench_module):
    probe = ipc_check.probe_ipc(timeout=30)
    assert probe["ok"] is False and probe["no_gpu"] is True and probe["error"], probe
    ok, line = ipc_check.verdict({"probe": probe})
    assert not ok and line.startswith("CUDA IPC NOT CHECKED: no usable GPU (") and "\n" not in line
    # The probe's second process answers in one JSON line whatever happens to it.
    p = bench_module("ipc_check", "--open", "00" * 64, "16", "0", timeout=60)
    answer = json.loads(p.stdout.strip().splitlines()[-1])
    assert answer["ok"] is False and answer["stage"] and answer["error"], answer


def test_the_ipc_probe_pattern_has_no_repeats_a_stale_page_could_match():
    p = ipc_check.pattern(ipc_check.PROBE_BYTES)
    assert p.dtype.name == "uint8" and p.size == 1 << 20
    assert (p[1:] != p[:-1]).all() and not (p[4096:8192] == p[:4096]).all()


# python_backend r24.10's own messages (src/pb_stub.cc, python_be.cc, pb_utils.cc,
# infer_response.cc) as tritonserver logs them.
_LOG = """I1203 16:43:32.697050 14789 python_be.cc:2249] "TRITONBACKEND_ModelInstanceInitialize: blur_0 (GPU device 0)"
I1203 16:43:33.100000 14801 pb_stub.cc:1399] "Failed to initialize CUDA shared memory pool in Python stub: Failed to open the cudaIpcHandle. error: invalid argument"
W1203 16:43:33.200000 14789 python_be.cc:1721] "Failed to share CUDA memory pool with stub process: Failed to open the cudaIpcHandle. error: invalid argument. Will use CUDA IPC."
W1203 16:43:33.300000 14789 python_be.cc:1721] "Failed to share CUDA memory pool with stub process: Failed to open the cudaIpcHandle. error: invalid argument. Will use CUDA IPC."
E1203 16:43:34.000000 14789 model.py:1] "blur_0: ok"
"""


def test_ipc_log_lines_find_python_backends_messages_once_each():
    lines = ipc_check.ipc_log_lines(_LOG)
    assert len(lines) == 2, lines                      # the same warning of two instances: once
    assert "pb_stub.cc:1399] \"Failed to initialize CUDA shared memory pool in Python stub" in lines[0]
    assert "Will use CUDA IPC." in lines[1]
    assert ipc_check.ipc_log_lines("I... everything fine\n") == []


def test_the_verdict_is_one_line_naming_what_failed():
    ok_probe = {"ok": True, "no_gpu": False, "bytes": 1 << 20}
    ok_req = {"ok": True, "shape": [1, 512, 512, 3], "request_s": 0.05, "equal_cpu": True}
    bad_req = {"ok": False, "error": "InferenceServerException: [500] Failed to open the cudaIpcHandle."}
    cases = {
        "probe": ({"probe": {"ok": False, "no_gpu": False, "stage": "cudaIpcOpenMemHandle in the second "
                             "process", "error": "CUDARuntimeError: cudaErrorInvalidValue: invalid argument"},
                   "request": bad_req, "ipc_log": ["W1 python_be.cc:1721] \"Failed to share ...\""]},
                  "CUDA IPC FAILED: cudaIpcOpenMemHandle in the second process: CUDARuntimeError: "
                  "cudaErrorInvalidValue: invalid argument (python_backend passes every GPU tensor between "
                  "server and stubs this way); the background_blur request failed: InferenceServerException"),
        "server": ({"probe": ok_probe, "request": bad_req, "ipc_log": ["W1 x] \"Failed to share CUDA memory pool\""]},
                   "CUDA IPC FAILED in the server (the two-process probe passed): python_backend logged: "
                   "\"W1 x] \"Failed to share CUDA memory pool\"\"; the background_blur request failed"),
        "request": ({"probe": ok_probe, "request": {"ok": False, "error": "ServerError: no ready"}},
                    "FIRST REQUEST FAILED (the CUDA IPC probe passed): the background_blur request failed: "
                    "ServerError: no ready"),
        "differs": ({"probe": ok_probe, "request": {**ok_req, "equal_cpu": False, "max_abs_diff": 3}},
                    "FIRST REQUEST FAILED (the CUDA IPC probe passed): background_blur 1x512x512x3 over HTTP "
                    "in 0.05 s, DIFFERS from the CPU path (max |diff| 3)"),
        "ok": ({"probe": ok_probe, "request": ok_req},
               "CUDA IPC OK: cudaIpcGetMemHandle + cudaIpcOpenMemHandle across two processes (1 MiB); "
               "background_blur 1x512x512x3 over HTTP in 0.05 s, equal to the CPU path"),
    }
    for name, (result, start) in cases.items():
        ok, line = ipc_check.verdict(result)
        assert ok == (name == "ok"), name
        assert line.startswith(start), f"{name}: {line}"
        assert "\n" not in line and len(line) <= ipc_check.LINE_CHARS
    ok, line = ipc_check.verdict({"probe": ok_probe}, timed_out_after=90)
    assert not ok and line.startswith("FIRST REQUEST FAILED (the CUDA IPC probe passed): the background_blur "
                                      "request did not finish (step timed out after 90 s)")
    ok, line = ipc_check.verdict({"probe": {**ok_probe, "ok": False, "stage": "s", "error": "e" * 2000}})
    assert not ok and len(line) == ipc_check.LINE_CHARS and line.endswith("…")


def test_the_ipc_step_runs_first_and_the_rest_still_run(tmp_path, bench_module):
    """--rehearse without a GPU: the ipc step runs before the others whatever order --steps
    names them in; its one line comes out, goes to summary.md above the step table, and the
    next step runs all the same. The request goes to the real (CPU) server."""
    assert list(gpu_check.STEPS)[0] == "ipc"
    assert sum(s.min_s for s in gpu_check.STEPS.values()) < 470 / 2   # every step can run
    p = bench_module("gpu_check", "--rehearse", "--out", str(tmp_path), "--budget", "240",
                     "--steps", "ops", "ipc", timeout=400)
    assert p.returncode == (1 if cuda_reason() is not None else p.returncode), \
        p.stdout[-3000:] + p.stderr[-2000:]
    out = p.stdout
    assert out.index("=== [ipc]") < out.index("=== [ops]")
    result = json.loads((tmp_path / "first_request.json").read_text())
    if cuda_reason() is not None:
        assert "\nCUDA IPC NOT CHECKED: no usable GPU (" in out
        assert result["request"]["ok"] and result["request"]["equal_cpu"] is True, result
        assert result["request"]["shape"] == [1, 512, 512, 3]
    summary = (tmp_path / "summary.md").read_text()
    assert f"**{result['verdict']}**" in summary
    assert summary.index(result["verdict"]) < summary.index("| step | what |")
    assert "| ipc | " in summary and "| ops | " in summary
    assert (tmp_path / "triton_first_request.log").stat().st_size > 0
