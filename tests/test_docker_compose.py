"""docker-compose.yml, checked statically (no Docker engine here): it parses, images are
pinned, mounted paths exist, and every tritonserver / perf_analyzer flag it uses is one the
real binaries accept."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

from clients.perf.install import ensure_perf_analyzer, perf_env
from serving.install import check_installation

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# Mounted folders that a documented command fills (kept out of git): host path -> module.
GENERATED = {"./bench/inputs": ["-m", "clients.perf.inputs", "--workload", "720p", "--out"]}


def help_text(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    return r.stdout + r.stderr


def test_services_and_pinned_images():
    services = COMPOSE["services"]
    assert {"triton", "perf"} <= set(services)
    for s in services.values():
        name, _, tag = s["image"].rpartition(":")
        assert name.startswith("nvcr.io/nvidia/tritonserver") and tag and tag != "latest"
    assert services["triton"]["image"].endswith(":24.10-py3")  # Triton 2.51, as embedded
    assert services["perf"]["image"].endswith(":24.10-py3-sdk")
    gpu = services["triton"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert "/v2/health/ready" in " ".join(services["triton"]["healthcheck"]["test"])


def test_mounted_paths_exist(tmp_path):
    for s in COMPOSE["services"].values():
        for v in s.get("volumes", []):
            host = v.split(":")[0]
            if not host.startswith("."):
                continue  # a named volume
            if host in GENERATED:
                out = tmp_path / "input_720p.json"
                r = subprocess.run([sys.executable, *GENERATED[host], str(out)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=300)
                assert r.returncode == 0 and out.stat().st_size > 1_000_000, r.stderr
                continue
            assert (ROOT / host).exists(), f"{host} is mounted but missing"


def test_server_requirements_match_the_project_pins():
    pins = lambda p: dict(l.split("==") for l in (ROOT / p).read_text().split("\n")  # noqa: E731
                          if "==" in l and not l.startswith("#"))
    project = {k: v.split()[0] for k, v in pins("requirements.txt").items()}
    for name, version in pins("requirements-server.txt").items():
        assert project[name] == version.split()[0], name


def _flags(words):
    return {w.split("=")[0] for w in words if w.startswith("--")}


def test_tritonserver_accepts_every_flag():
    cmd = COMPOSE["services"]["triton"]["command"][-1]
    server_part = cmd[cmd.index("tritonserver"):]
    flags = _flags(server_part.split())
    assert {"--model-repository", "--http-port", "--grpc-port"} <= flags
    root = check_installation()
    text = help_text([str(root / "bin" / "tritonserver"), "--help"])
    for f in flags:
        assert re.search(rf"^\s+{re.escape(f)}\b", text, re.M), f"tritonserver does not accept {f}"


def test_perf_analyzer_accepts_every_flag():
    words = COMPOSE["services"]["perf"]["command"]
    assert words[0] == "perf_analyzer"
    text = help_text([str(ensure_perf_analyzer()), "--help"], env=perf_env())
    for f in _flags(words):
        assert f in text, f"perf_analyzer does not accept {f}"
    short = [w for w in words if re.fullmatch(r"-[a-zA-Z]", w)]
    for f in short:
        assert re.search(rf"^\s*{f}\b", text, re.M) or f"{f} " in text
