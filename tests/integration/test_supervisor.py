"""The supervised embedded server (serving.server.supervisor) against real failures: a stub killed
mid-load, a wedged stub, tritonserver killed, tritonserver aborted by a malformed HTTP
request. Each time the service comes back by itself, readiness says false in between, and
nothing is leaked. One server for the module (each test leaves it serving); its own, not the
session's, since these tests break it on purpose."""
import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time

import numpy as np
import pytest
from skimage import data

from serving.server.health import check as health_check
from serving.server.diagnosis import describe_exit, exit_cause, parse_metrics, wedged_models
from serving.server.model_control import SupervisorError, caller_manages_models, supervised_flags
from serving.server.stubs import find_stubs, parent_pid, process_gone, shm_regions
from serving.paths import REPO_ROOT
from serving.registry import base_model
from tests.helpers import blur_steps, infer

pytestmark = pytest.mark.server

FRAME = np.ascontiguousarray(data.astronaut()[::4, ::4])  # 128 x 128
RESTART_S = 15.0  # serving again after tritonserver died (docs/serving.md, Failure and recovery)


@pytest.fixture(scope="module")
def supervised():
    from serving.server import EmbeddedServer

    with EmbeddedServer(wedge_seconds=3.0) as s:
        yield s


def _blur(url: str, timeout: float = 60.0) -> np.ndarray:
    return infer(url, "http", "background_blur", {"IMAGE": FRAME[None]},
                 timeout=timeout)["BLURRED"][0]


def _ready(url: str) -> tuple[bool, bool]:
    """(server ready, background_blur ready); a probe that does not answer within 0.5 s
    counts as not ready, as an orchestrator's would."""
    import tritonclient.http as http

    client = http.InferenceServerClient(url, connection_timeout=0.5, network_timeout=0.5)
    try:
        return client.is_server_ready(), client.is_model_ready("background_blur")
    except Exception:  # noqa: BLE001 - down or not answering
        return False, False
    finally:
        client.close()


class Load:
    """Two client threads sending background_blur requests until stopped."""

    def __init__(self, url: str):
        self.url, self.stop, self.ok, self.failed = url, threading.Event(), 0, []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                _blur(self.url, timeout=30)
                self.ok += 1
            except Exception as e:  # noqa: BLE001 - counted; the test decides
                self.failed.append(str(e)[:200])
                time.sleep(0.05)

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def _wait_serving(url: str, expected: np.ndarray, since: float, budget: float) -> float:
    """Seconds from ``since`` until background_blur answers ``expected`` again."""
    while time.monotonic() - since < budget:
        try:
            got = _blur(url, timeout=budget)
            np.testing.assert_array_equal(got, expected)
            return time.monotonic() - since
        except Exception:  # noqa: BLE001 - not back yet
            time.sleep(0.1)
    raise AssertionError(f"background_blur not serving {budget:.0f} s after the failure")


def _watch_readiness(url: str, until: threading.Event, seen: list) -> None:
    while not until.is_set():
        seen.append(_ready(url))
        time.sleep(0.05)


def _assert_nothing_leaked(s) -> None:
    """Every region of this server belongs to a live stub, and every stub to this server."""
    stubs = find_stubs(s.shm_prefix)
    assert sorted(shm_regions(s.shm_prefix)) == sorted(st.region for st in stubs)
    assert all(parent_pid(st.pid) == s.proc.pid for st in stubs), \
        "a stub of an earlier tritonserver is still running"


@pytest.mark.parametrize("load", [False, True], ids=["idle", "mid-load"])
def test_killed_stub_comes_back_and_readiness_says_so(supervised, load):
    """The model is reloaded alone, or, when 2.51 hangs unloading it (on its dead stub's
    health mutex: often mid-load, sometimes idle), the whole server is restarted. Either way
    within 30 s, with readiness false in between."""
    s = supervised
    expected = _blur(s.http_url)
    stub = next(st for st in find_stubs(s.shm_prefix) if st.model == "blur")
    before = len(s.events)
    seen: list = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch_readiness, args=(s.http_url, done, seen))
    with Load(s.http_url) if load else contextlib.nullcontext() as running:
        while load and running.ok < 2:
            time.sleep(0.05)
        watcher.start()
        t0 = time.monotonic()
        os.kill(stub.pid, signal.SIGKILL)
        took = _wait_serving(s.http_url, expected, t0, 30.0)
        done.set()
        watcher.join()
    assert took <= 30.0
    assert any(not server or not model for server, model in seen), \
        f"readiness never said false while blur was down: {seen}"
    new = s.events[before:]
    assert new[0].kind == "stub-dead" and "blur_0" in new[0].detail, new
    assert new[-1].kind in ("recovered", "restarted"), new
    assert _ready(s.http_url) == (True, True)
    assert health_check(s.http_url) is None
    _assert_nothing_leaked(s)


def test_stub_killed_by_a_wrapped_shape_comes_back(supervised):
    """[1, 2^32, 2^32, 3] with no data: the element count wraps to 0, so 2.51 lets it through,
    and the stub aborts building its view of the input before model code runs (docs/serving.md,
    Request limits). The model comes back; the client got an error, not a hang."""
    s = supervised
    expected = _blur(s.http_url)
    before = len(s.events)
    t0 = time.monotonic()
    status = _post_json_infer(s.http_url, [1, 2**32, 2**32, 3], [], timeout=30)
    assert status is None or status >= 400  # None: the server went down with it
    took = _wait_serving(s.http_url, expected, t0, 30.0)
    assert took <= 30.0
    assert any(e.kind in ("stub-dead", "server-exit") for e in s.events[before:]), s.events[before:]
    _assert_nothing_leaked(s)


def test_stopped_stub_is_killed_and_reloaded(supervised):
    """A stub that never answers (SIGSTOP): 2.51 fails every request to it as "not healthy"
    and never replaces it; the supervisor kills it and brings the model back."""
    s = supervised
    expected = _blur(s.http_url)
    step = next(m for m in blur_steps() if base_model(m) == "tensor_to_mask")  # the pipeline's copy
    stub = next(st for st in find_stubs(s.shm_prefix) if st.model == step)
    before = len(s.events)
    with Load(s.http_url):
        time.sleep(0.5)
        t0 = time.monotonic()
        os.kill(stub.pid, signal.SIGSTOP)
        took = _wait_serving(s.http_url, expected, t0, 30.0)
    new = s.events[before:]
    assert any(e.kind == "wedged" and step in e.detail for e in new), new
    assert took <= 30.0
    _assert_nothing_leaked(s)


def test_wedge_is_requests_waiting_without_progress():
    progress: dict = {}
    busy = {"m": {"nv_inference_exec_count": 5, "nv_inference_pending_request_count": 2}}
    assert wedged_models(busy, ["m"], progress, 0.0, 3.0) == {}
    assert wedged_models(busy, ["m"], progress, 2.9, 3.0) == {}
    assert "2 request(s) waiting" in wedged_models(busy, ["m"], progress, 3.1, 3.0)["m"]
    # an execution finished: progress, the clock starts again
    moved = {"m": {"nv_inference_exec_count": 6, "nv_inference_pending_request_count": 2}}
    assert wedged_models(moved, ["m"], progress, 4.0, 3.0) == {}
    assert wedged_models(moved, ["m"], progress, 6.9, 3.0) == {}
    # nothing waiting: a long quiet spell is not a wedge
    idle = {"m": {"nv_inference_exec_count": 6, "nv_inference_pending_request_count": 0}}
    assert wedged_models(idle, ["m"], progress, 100.0, 3.0) == {}
    assert wedged_models(moved, ["m"], progress, 102.0, 3.0) == {}


def _post_json_infer(url: str, shape: list[int], data: list[int], timeout: float) -> int | None:
    """A background_blur IMAGE request in HTTP JSON declaring ``shape``: the status, or None
    when the connection died instead (the server went down under it)."""
    body = json.dumps({"inputs": [{"name": "IMAGE", "shape": shape, "datatype": "UINT8",
                                   "data": data}]})
    host, port = url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", "/v2/models/background_blur/infer", body,
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _abort_front_end(url: str) -> None:
    """An HTTP JSON request whose declared shape (3e10 bytes) tritonserver 2.51 allocates
    before counting the three values it carries: std::bad_alloc, abort (docs/serving.md)."""
    _post_json_infer(url, [1, 100000, 100000, 3], [1, 2, 3], timeout=10)


@pytest.mark.parametrize("how", ["sigkill", "malformed-json-shape"])
def test_tritonserver_death_is_restarted_on_the_same_ports(supervised, how):
    s = supervised
    expected = _blur(s.http_url)
    old = s.proc
    old_stubs = find_stubs(s.shm_prefix)
    before = len(s.events)
    t0 = time.monotonic()
    if how == "sigkill":
        os.kill(old.pid, signal.SIGKILL)
    else:
        _abort_front_end(s.http_url)
        if old.poll() is None:
            old.wait(10)  # a release that refuses the request instead would fail here, rightly
    # A restart loads every model again: ~8 s for the repository's 20 models on 2 cores.
    took = _wait_serving(s.http_url, expected, t0, RESTART_S)
    assert s.proc is not old and s.proc.poll() is None
    exits = [e for e in s.events[before:] if e.kind == "server-exit"]
    assert exits, s.events[before:]
    assert ("SIGKILL" if how == "sigkill" else "SIGABRT") in exits[0].detail, exits[0]
    if how != "sigkill":
        assert "bad_alloc" in exits[0].detail, exits[0]
    assert took <= RESTART_S
    assert all(process_gone(st.pid) for st in old_stubs)
    _assert_nothing_leaked(s)


def test_clients_cannot_unload_models(supervised):
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    client = http.InferenceServerClient(supervised.http_url)
    try:
        with pytest.raises(InferenceServerException, match="restricted"):
            client.unload_model("blur")
        states = {m["name"]: m["state"] for m in
                  client.get_model_repository_index(headers=supervised.admin_headers)}
        assert states["blur"] == "READY"
    finally:
        client.close()


def test_stop_leaves_no_process_port_or_region(supervised):
    s = supervised
    proc, prefix, ports = s.proc, s.shm_prefix, s.ports
    stubs = find_stubs(prefix)
    assert stubs and shm_regions(prefix)
    s.stop()
    assert proc.poll() is not None
    assert find_stubs(prefix) == [] and shm_regions(prefix) == []
    for st in stubs:
        assert process_gone(st.pid)
    for port in ports:  # nobody listens there any more (a server restart could bind it)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_health_check_fails_when_the_service_is_down():
    from serving.server import free_port

    why = health_check(f"127.0.0.1:{free_port()}", timeout=2)
    assert why is not None and "background_blur" in why


# -- the pieces, without a server ------------------------------------------------------------

def test_supervised_flags():
    flags = supervised_flags([], "tvo_x_", "secret")
    assert "--model-control-mode=explicit" in flags and "--load-model=*" in flags
    assert "--http-restricted-api=model-repository:tvo-admin=secret" in flags
    assert "--backend-config=python,shm-region-prefix-name=tvo_x_" in flags
    # the caller's own mode: the caller manages models, the API stays open
    own = supervised_flags(["--model-control-mode=explicit"], "tvo_x_", "secret")
    assert not any("restricted" in f or "load-model" in f for f in own)
    assert caller_manages_models(["--model-control-mode", "poll"])
    assert not caller_manages_models(["--log-verbose=1"])
    with pytest.raises(SupervisorError, match="shm-region-prefix-name"):
        supervised_flags(["--backend-config=python,shm-region-prefix-name=x"], "tvo_x_", "secret")


def test_exit_cause_and_description():
    assert describe_exit(-signal.SIGABRT) == "killed by SIGABRT"
    assert describe_exit(1) == "exited with status 1"
    log = "\n".join(["I1126 loading: blur:1", "E1126 12:00:00 old error, long ago"] + ["I ok"] * 50
                    + ["terminate called after throwing an instance of 'std::bad_alloc'",
                       "  what():  std::bad_alloc", "Signal (6) received."])
    cause = exit_cause(log)
    assert "bad_alloc" in cause and "Signal (6)" in cause and "long ago" not in cause
    stubs_after = log + "\n" + "\n".join(["I1126 pb_stub.cc:2145]  Non-graceful termination detected."] * 50)
    assert exit_cause(stubs_after) == cause
    assert exit_cause("I one\nI two\n") == "I one | I two"


def test_parse_metrics():
    text = """# HELP x
nv_inference_exec_count{model="blur",version="1"} 7
nv_inference_request_failure{model="blur",reason="BACKEND",version="1"} 2
nv_inference_request_failure{model="blur",reason="OTHER",version="1"} 1
nv_inference_pending_request_count{model="blur",version="1"} 3
tvo_tensors_total{model="blur"} 9
"""
    m = parse_metrics(text)
    assert m["blur"] == {"nv_inference_exec_count": 7.0, "nv_inference_request_failure": 3.0,
                         "nv_inference_pending_request_count": 3.0}


def test_pipeline_load_on_a_supervised_server_says_how(server):
    """`serving.pipeline load` against a server that keeps model control to itself: refused
    (403), with how to start one that lets you load."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "serving.pipeline", "load", "resize", "--url",
                        server.http_url], capture_output=True, text=True, timeout=60,
                       cwd=REPO_ROOT)
    assert r.returncode == 1
    assert "restricted" in r.stderr and "--model-control-mode=explicit" in r.stderr, r.stderr


def _tritonservers_on(port: int) -> list[int]:
    """pids of tritonserver processes started with this HTTP port."""
    pids = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and args[0].endswith("tritonserver") and f"--http-port={port}" in args:
            pids.append(int(d))
    return pids


@pytest.mark.parametrize("when", ["while starting", "once ready"])
def test_foreground_server_stops_on_a_signal(tmp_path, when):
    """`python -m serving.server` stops on SIGTERM/SIGINT at any time, tritonserver with it,
    and shows only this run's log (a --log file from an earlier run is not replayed)."""
    import subprocess
    import sys

    from serving.server import free_port

    ports = [free_port() for _ in range(3)]
    log = tmp_path / "triton.log"
    log.write_text("A LINE FROM AN EARLIER RUN\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving.server", "--http-port", str(ports[0]), "--grpc-port",
         str(ports[1]), "--metrics-port", str(ports[2]), "--log", str(log)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if when == "while starting" and _tritonservers_on(ports[0]):
                break  # tritonserver runs and is not ready yet
            if when == "once ready" and line.strip() == "ready":
                break
        assert _tritonservers_on(ports[0]), "".join(lines)
        if when == "once ready":  # "ready" means what a client sees, on this command's ports
            assert _ready(f"127.0.0.1:{ports[0]}") == (True, True), "".join(lines)
        proc.send_signal(signal.SIGTERM if when == "while starting" else signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    assert proc.returncode == (130 if when == "while starting" else 0), out
    assert _tritonservers_on(ports[0]) == [], out
    assert "A LINE FROM AN EARLIER RUN" not in out
    if when == "once ready":
        assert f"Started HTTPService at 127.0.0.1:{ports[0]}" in out, out
