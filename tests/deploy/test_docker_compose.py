"""docker-compose.yml, checked without a Docker engine: it parses, the images are pinned and of one
release, mounted paths exist, requirements-server.txt resolves for the image's Python and glibc
(pip --dry-run against PyPI), the start command fails loudly, and every tritonserver /
perf_analyzer flag it uses is one the real binaries accept."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from clients.perf.install import ensure_perf_analyzer, perf_env
from serving.server.install import check_installation

from serving.paths import REPO_ROOT as ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVER_REQUIREMENTS = ROOT / "requirements-server.txt"
# Mounted folders that a documented command fills (kept out of git): host path -> module.
GENERATED = {"./bench/inputs": ["-m", "clients.perf.inputs", "--workload", "720p", "--out"]}

# What is inside each tritonserver image docker-compose.yml may name, by tag (the evidence, NVIDIA's
# release notes and the server repository, is in docs/serving.md). Changing the image in
# docker-compose.yml means adding its row here: the dry-run below resolves the server requirements
# for that Python and glibc.
IMAGES = {
    "26.10-py3": {"triton": "2.74.0", "python": "3.12", "glibc": (2, 39), "cuda": "13.4"},
}


def help_text(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    return r.stdout + r.stderr


def image_facts():
    tag = COMPOSE["services"]["triton"]["image"].rpartition(":")[2]
    assert tag in IMAGES, f"docker-compose.yml uses tritonserver:{tag}: add its facts to IMAGES"
    return IMAGES[tag]


def start_command():
    """The triton service's shell command as the container runs it: compose interpolates
    ${VAR} / $VAR from the host and turns $$ into $ (a lone $ here would be a host variable)."""
    raw = " ".join(COMPOSE["services"]["triton"]["command"][2:])
    assert "$" not in raw.replace("$$", ""), f"unescaped $ in the compose command: {raw}"
    return raw.replace("$$", "$")


def pins(path):
    """{normalised name: version} of the name[extras]==version lines of a requirements file."""
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
            out[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version
    return out


def test_services_and_pinned_images():
    services = COMPOSE["services"]
    assert {"triton", "perf"} <= set(services)
    for s in services.values():
        name, _, tag = s["image"].rpartition(":")
        assert name == "nvcr.io/nvidia/tritonserver" and tag and tag != "latest"
    image_facts()
    # perf_analyzer from the SDK image of the same release
    assert services["perf"]["image"] == services["triton"]["image"] + "-sdk"
    gpu = services["triton"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]



def test_recovery_policy_and_a_health_check_that_serves(monkeypatch):
    """The container comes back if the supervisor gives up (restart policy), is stopped
    gracefully (the supervisor's SIGTERM path and tritonserver's 10 s exit timeout fit in the
    grace period), and is healthy only if background_blur answers a real request."""
    triton = COMPOSE["services"]["triton"]
    assert triton["restart"] in ("unless-stopped", "always")
    # an init as PID 1 reaps the stubs a dead tritonserver leaves to it (Python would not)
    assert triton["init"] is True
    assert int(triton["stop_grace_period"].rstrip("s")) > 30 + 10
    test = triton["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:4] == ["python3", "-m", "serving.server.health"]
    import serving.server.health
    asked = []
    monkeypatch.setattr(serving.server.health, "check", lambda *a: asked.append(a))  # healthy
    assert serving.server.health.main(test[4:]) == 0  # argparse exits 2 on an argument it lacks
    assert asked == [("127.0.0.1:8000", "background_blur", 10.0)]


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


def test_start_command_fails_loudly_and_checks_the_gpu():
    cmd = start_command()
    assert cmd.startswith("set -euo pipefail;"), "a failed step must stop the container"
    install = cmd.index("-m pip install")
    check = cmd.index("-m serving.server.preflight")
    server = cmd.index("exec python3 -m serving.server")
    assert install < check < server, "install, then check the GPU stack, then serve (supervised)"
    pip_args = cmd[install:check].replace(";", " ").split()
    # the same wheels-only resolution that test_server_requirements_resolve_for_the_image proves
    assert "--only-binary=:all:" in pip_args and "/workspace/requirements-server.txt" in pip_args
    assert "--no-cache-dir" not in pip_args, "the pip-cache volume keeps the ~1.7 GB of wheels"
    volumes = COMPOSE["services"]["triton"]["volumes"]
    assert "./requirements-server.txt:/workspace/requirements-server.txt:ro" in volumes
    assert any(v.endswith(":/root/.cache/pip") for v in volumes)


def test_the_project_installs_from_the_read_only_mounts(tmp_path):
    """The start command's second pip install (the project, editable) works from exactly what
    the triton service mounts, read-only, and the stubs then import the mounted packages."""
    cmd = start_command()
    step = next(s for s in cmd.split(";") if "-m pip install" in s and "-e /workspace" in s)
    assert "--no-deps" in step.split(), "the dependencies are requirements-server.txt's pins"
    work = tmp_path / "workspace"
    for v in COMPOSE["services"]["triton"]["volumes"]:
        host, target = v.split(":")[:2]
        if host.startswith(".") and target.startswith("/workspace/") and host != "./model_repository":
            dest = work / target.removeprefix("/workspace/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (ROOT / host).is_dir() else shutil.copy2)(ROOT / host, dest)
    subprocess.run(["chmod", "-R", "a-w", str(work)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                        "install", "-q", "--no-deps", "-e", str(work)],
                       capture_output=True, text=True, timeout=600)
    subprocess.run(["chmod", "-R", "u+w", str(work)], check=True)
    assert r.returncode == 0, r.stdout + r.stderr
    found = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import importlib.util as u; print(u.find_spec('serving.fused').origin)"],
                           capture_output=True, text=True, cwd="/")
    assert found.stdout.strip() == str(work / "serving" / "fused.py"), found.stderr


def test_server_requirements_resolve_for_the_image(tmp_path):
    """pip resolves requirements-server.txt with wheels only, for the image's CPython, glibc and
    x86_64, ignoring whatever is installed here (needs PyPI). Its output is the failure message."""
    facts = image_facts()
    major, minor = facts["glibc"]
    platforms = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", facts["python"],
           *(a for p in platforms for a in ("--platform", p)), "--target", str(tmp_path / "t"),
           "--report", str(report), "-r", str(SERVER_REQUIREMENTS)]
    # Only PyPI, as in the container: no local wheel folders, extra indexes or constraints from
    # this machine's pip configuration (its certificate settings stay in the environment).
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX",
                        "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_CONFIG_FILE"] = os.devnull
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, (f"requirements-server.txt does not resolve for Python "
                               f"{facts['python']} / glibc {major}.{minor}:\n$ {' '.join(cmd)}\n"
                               f"{r.stdout}\n{r.stderr}")
    resolved = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    for name, version in pins(SERVER_REQUIREMENTS).items():
        assert resolved.get(name) == version, f"{name}: pinned {version}, resolved {resolved.get(name)}"
    assert int(resolved["numpy"].split(".")[0]) >= 2
    # CUDA-specific wheels are of the image's CUDA major version
    cuda_major = facts["cuda"].split(".")[0]
    for name, version in resolved.items():
        m = re.fullmatch(r"cupy-cuda(\d+)x|nvidia-.*-cu(\d+)", name)
        if m:
            assert (m.group(1) or m.group(2)) == cuda_major, name
        if name in ("nvidia-cuda-runtime", "nvidia-cuda-nvrtc", "nvidia-nvjitlink"):
            assert version.split(".")[0] == cuda_major, f"{name} {version}"


def test_server_requirements_match_the_project_pins():
    """What both files pin, they pin alike: the server runs the versions the tests ran."""
    project, server = pins(ROOT / "requirements.txt"), pins(SERVER_REQUIREMENTS)
    for name in sorted(set(project) & set(server)):
        assert project[name] == server[name], f"{name}: project {project[name]}, server {server[name]}"


def _flags(words):
    return {w.split("=")[0] for w in words if w.startswith("--")}


def test_tritonserver_accepts_every_flag(monkeypatch):
    """The tritonserver command serving.server builds from the compose arguments (with the
    supervisor's flags and one CUDA memory pool flag per GPU, as on a 2-GPU host) uses only
    flags the real binary accepts (2.51 here)."""
    import serving.server.cli as cli
    import serving.server.embedded as embedded

    cmd = start_command()
    words = cmd[cmd.index("exec python3 -m serving.server") + len("exec python3 -m serving.server"):].split()
    args = cli.parse_args(words)
    assert args.address == "0.0.0.0" and str(args.tritonserver) == "/opt/tritonserver/bin/tritonserver"
    assert args.model_repository == Path("/workspace/model_repository")
    args.model_repository = ROOT / "model_repository"  # the same files, mounted there
    pool = embedded.server_pool_flags
    monkeypatch.setattr(embedded, "server_pool_flags", lambda repo: pool(repo, gpus=[0, 1]))
    command = cli.server_from_args(args).command()
    assert command[0] == "/opt/tritonserver/bin/tritonserver"
    assert "--backend-directory=/opt/tritonserver/backends" in command
    assert sum(a.startswith("--cuda-memory-pool-byte-size=") for a in command) == 2
    flags = _flags(command[1:])
    assert {"--model-repository", "--http-port", "--grpc-port", "--model-control-mode",
            "--http-restricted-api", "--backend-config"} <= flags
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
