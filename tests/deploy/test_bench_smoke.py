"""The benchmarks run end to end (tiny settings); their timings are not asserted, only the
soak's verdict logic (on made-up samples) and the encoded bench's byte counts."""
import json

import pytest

from serving.paths import REPO_ROOT as ROOT


def test_ops_bench_quick(tmp_path, bench_module):
    r = bench_module("ops_bench", "--quick", "--budget", "0", "--tag", "t", "--out-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "ops_t.json").read_text())
    assert {"resize linear -> 256x455", "letterbox -> 256x256"} <= {row["op"] for row in rows}
    assert all(row["numpy_ms"] > 0 for row in rows)
    assert "| op |" in (tmp_path / "ops_t.md").read_text()


def test_limits_bench_quick(tmp_path, bench_module):
    r = bench_module("limits_bench", "--side", "256", "--quick", "--tag", "t", "--out-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "limits_t.md").read_text()
    assert "| `blur` | sigma=128.0 |" in text and "| `morphology` | ksize=21 |" in text


def _samples(rss, gpu=None, errors=0, pids=None):
    """Soak samples every 30 s (only what the verdict reads)."""
    gpu = gpu or [None] * len(rss)
    pids = pids or [1] * len(rss)
    return [{"t_s": 30.0 * i, "requests": 10 * i, "errors": errors, "rss_mib": r,
             "server_pid": p, "gpu_server_mib": g, "gpu_device_mib": None}
            for i, (r, g, p) in enumerate(zip(rss, gpu, pids))]


def test_soak_verdict():
    from bench import soak

    def lines(samples):
        return [soak.line(c) for c in soak.verdict(samples, warmup_s=60)]

    # Growth counts from the sample at 60 s (the first minute's 1000 -> 2000 does not).
    ok = lines(_samples([1000, 2000, 2000, 2099]))
    assert ok[0] == "PASS errors: 0 of 30 requests"
    assert ok[1].startswith("PASS RSS growth after 60 s: 2000.0 MiB at 60 s -> 2099.0 MiB at 90 s (+4.95%")
    # Medians of up to 6 samples at each end: one high sample (frames in flight) is not growth.
    noisy = [1000, 2000] + [2000, 2300, 2000, 2010, 1990, 2000] * 2 + [2000, 2300, 2000, 2010, 1990, 2030]
    assert lines(_samples(noisy))[1].startswith("PASS RSS growth after 60 s: 2000.0 MiB at 60-210 s "
                                                "-> 2005.0 MiB at")
    creeping = [1000, 2000] + [2000 + 15 * i for i in range(18)]
    assert lines(_samples(creeping))[1].startswith("FAIL RSS growth")
    assert ok[2] == "PASS GPU memory: no GPU"
    assert lines(_samples([1000, 2000, 2000, 2101]))[1].startswith("FAIL RSS growth")
    assert lines(_samples([1000, 2000, 2000, 2000], errors=1))[0] == "FAIL errors: 1 of 30 requests"
    assert "not measured" in lines(_samples([1000, 2000, 2000]))[1]  # nothing after 60 s
    assert "restarted" in lines(_samples([1000, 2000, 2000, 2000], pids=[1, 1, 1, 2]))[1]
    gpu = lines(_samples([1, 1, 1, 1], gpu=[500, 900, 900, 950]))[2]
    assert gpu.startswith("FAIL GPU memory growth after 60 s (server processes): 900.0 MiB")
    assert lines(_samples([1, 1, 1, 1], gpu=[500, 900, 900, 901]))[2].startswith("PASS GPU")


def test_soak_briefly(server, tmp_path):
    """A few seconds of the soak against the session's server: samples every second, memory
    growth from 2 s on; every response checked; the CSV and markdown written."""
    import csv

    from bench import soak

    rc = soak.main(["--url", server.grpc_url, "--protocol", "grpc", "--seconds", "5",
                    "--concurrency", "2", "--interval", "1", "--warmup", "2",
                    "--tag", "t", "--out", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "soak_t.csv").open()))
    md = (tmp_path / "soak_t.md").read_text()
    assert len(rows) >= 5 and float(rows[-1]["t_s"]) >= 5
    last = rows[-1]
    assert int(last["requests"]) > 0 and last["errors"] == "0", md
    # The server behind --url was found by its port: the fixture's tritonserver and its stubs.
    assert {int(r["server_pid"]) for r in rows} == {server.proc.pid}
    assert int(last["processes"]) > 1 and float(last["rss_mib"]) > 0
    assert "tritonserver[" in last["top"] and "stub:" in last["top"]
    assert "PASS errors: 0 of" in md and "GPU memory" in md and "| t s | requests |" in md
    # Memory may still be settling after 2 s: the verdict decides, the exit code follows it.
    assert rc == (0 if "## Verdict: PASS" in md else 1), md


@pytest.mark.server
def test_encoded_bench_briefly(server, tmp_path):
    """One short window of each pipeline at 720p against the session's server: the JPEG
    files are the smaller payload both ways, and the table and CSV are written."""
    import csv

    from bench import encoded_bench

    rc = encoded_bench.main(["--url", server.http_url, "--grpc-url", server.grpc_url,
                             "--workloads", "720p", "--concurrency", "1", "--measurement-ms", "1000",
                             "--max-trials", "10", "--tag", "t", "--out-dir", str(tmp_path)])
    md = (tmp_path / "encoded_t.md").read_text()
    assert rc == 0, md
    rows = {r["model"]: r for r in csv.DictReader((tmp_path / "encoded_t.csv").open())}
    raw, enc = rows["background_blur"], rows["background_blur_encoded"]
    assert int(raw["request_bytes"]) == 720 * 1280 * 3 and int(raw["response_bytes"]) == 720 * 1280 * 4
    assert 0 < int(enc["request_bytes"]) < int(raw["request_bytes"]) / 5
    assert 0 < int(enc["response_bytes"]) < int(raw["response_bytes"]) / 5
    assert float(enc["Inferences/Second"]) > 0 and "| 720p | background_blur_encoded | JPEG q90 | 1 |" in md


def test_step_profile_summary():
    """py-spy's collapsed stacks -> own and cumulative shares of execute()."""
    from bench.step_overhead import summarize_profile

    collapsed = ("OpModel.execute (serving/base.py:10);to_triton (serving/base.py:90) 3\n"
                 "OpModel.execute (serving/base.py:10) 1\n"
                 "_bootstrap (threading.py:5);wait (threading.py:9) 4\n")
    md = summarize_profile(collapsed, "upload", 2)
    assert "8 samples while 2 requests ran, 4 inside execute(): about 2000 µs" in md
    assert "| to_triton (base.py) | 75.0 | 75.0 |" in md
    assert "| OpModel.execute (base.py) | 25.0 | 100.0 |" in md
    assert "wait" not in md


@pytest.mark.server
def test_step_overhead_briefly(tmp_path):
    """Its own server (the identity chains, the trace), one short round at 16x16: every step
    of background_blur, the tee among them, has a span; the table is written."""
    from bench import step_overhead

    assert step_overhead.main(["--sizes", "16x16", "--rounds", "1", "--requests", "4",
                               "--warmup", "2", "--tag", "t", "--out-dir", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "step_overhead_t.json").read_text())["16x16"]
    assert r["step_order"][-2:] == ["background_blur__tee_MASK", "blur"]
    for name, step in [("identity", r["identity"]), ("identity_distinct", r["identity_distinct"]),
                       *r["steps"].items()]:
        assert step["span"] > 0 and step["executions"] > 0, name
    assert r["whole"]["background_blur"]["client_p50_ms"] > r["whole"]["identity_chain"]["client_p50_ms"]
    assert "× identity" in (tmp_path / "step_overhead_t.md").read_text()


@pytest.mark.server
def test_client_bench_briefly(server, tmp_path):
    from bench import client_bench

    assert client_bench.main(["--url", server.http_url, "--grpc-url", server.grpc_url,
                              "--photos", "6", "--concurrency", "2", "--rounds", "1",
                              "--measurement-ms", "500", "--tag", "t", "--out-dir", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "client_t.json").read_text())["2"]
    assert r["client_per_s"] > 0 and r["perf_analyzer_per_s"] > 0
    assert "| 2 |" in (tmp_path / "client_t.md").read_text()


@pytest.mark.server
def test_before_after_briefly(tmp_path):
    """HEAD's worktree against this tree, one short pipeline_bench each; the worktree goes."""
    import subprocess as sp

    from bench import before_after

    worktrees = sp.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert before_after.main(["--before", "HEAD", "--rounds", "1", "--tag", "t", "--out-dir",
                              str(tmp_path), "--", "--workloads", "720p", "--concurrency", "1",
                              "--measurement-ms", "500", "--models", "background_blur"]) == 0
    md = (tmp_path / "before_after_t.md").read_text()
    assert "| background_blur | 720p |" in md and "—" not in md, md
    assert sp.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout == worktrees
