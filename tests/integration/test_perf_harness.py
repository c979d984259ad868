"""The perf_analyzer harness against the real server (short windows: numbers are not
asserted here; they live in bench/results/)."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from clients.perf.inputs import WORKLOADS, frames, write_input_data
from clients.perf.stats import diff_stats, model_stats, per_request_table

from serving.paths import REPO_ROOT as ROOT
pytestmark = pytest.mark.server


def test_input_data_is_real_photos(tmp_path):
    imgs = frames("mixed")
    assert [i.shape[:2] for i in imgs] == WORKLOADS["mixed"]
    assert all(i.dtype == np.uint8 and i.std() > 20 for i in imgs)
    path = write_input_data(tmp_path / "in.json", imgs)
    data = json.loads(path.read_text())["data"]
    assert [d["IMAGE"]["shape"] for d in data] == [list(i.shape) for i in imgs]


def test_sweep_writes_csv_and_plot(server, tmp_path):
    before = model_stats(server.http_url)
    out = tmp_path / "sweep"
    r = subprocess.run([sys.executable, "-m", "clients.perf.sweep", "--url", server.http_url,
                        "--grpc-url", server.grpc_url, "--models", "background_blur",
                        "--workloads", "mixed", "--protocols", "http", "grpc", "--shm", "none", "system",
                        "--concurrency", "1", "--measurement-ms", "1500", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert {(row["protocol"], row["shm"]) for row in rows} == {
        ("http", "none"), ("http", "system"), ("grpc", "none"), ("grpc", "system")}
    assert all(float(row["Inferences/Second"]) > 0 for row in rows)
    assert out.with_suffix(".png").stat().st_size > 10_000
    table = per_request_table(diff_stats(model_stats(server.http_url), before))
    names = {t["model"] for t in table}
    assert {"background_blur", "unet", "blur"} <= names
