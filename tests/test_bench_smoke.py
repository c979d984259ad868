"""The benchmarks run end to end (tiny settings); their numbers are not asserted."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ops_bench_quick(tmp_path):
    r = subprocess.run([sys.executable, "bench/ops_bench.py", "--quick", "--budget", "0",
                        "--tag", "t", "--out-dir", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "ops_t.json").read_text())
    assert {"resize linear -> 256x455", "letterbox -> 256x256"} <= {row["op"] for row in rows}
    assert all(row["numpy_ms"] > 0 for row in rows)
    assert "| op |" in (tmp_path / "ops_t.md").read_text()


def test_limits_bench_quick(tmp_path):
    r = subprocess.run([sys.executable, "bench/limits_bench.py", "--side", "256", "--quick",
                        "--tag", "t", "--out-dir", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "limits_t.md").read_text()
    assert "| `blur` | sigma=128.0 |" in text and "| `morphology` | ksize=21 |" in text
