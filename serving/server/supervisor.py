"""Supervision of a tritonserver process: a dead part comes back by itself, and readiness
says the truth in between.

Triton 2.51 never restarts a Python-backend stub that died (crash, OOM kill, SIGKILL): every
later request to its model fails with "Stub process ... is not healthy" while the server's
and the model's ready endpoints keep answering 200. And a few malformed HTTP requests abort
tritonserver itself before any model runs (docs/serving.md, "Failure and recovery"). The
``Supervisor`` runs tritonserver and, every ``poll_s``:

- if tritonserver exited unexpectedly: logs the exit and the cause it found in the log,
  kills the stubs it left, removes their /dev/shm regions, and starts it again with the same
  command (same ports);
- if a stub of a loaded model is gone, or the model is wedged (requests waiting and no
  execution finished for ``wedge_s``; its stubs are killed first): unloads the model, so it
  and the server stop claiming readiness, and loads it again through the model-control API
  (``--model-control-mode=explicit``), then every model that depended on it;
- after a recovery, removes the /dev/shm regions no live stub uses.

Every stub region of this server starts with its own prefix (``shm_prefix``), which is how
its stubs and leftovers are told apart from any other server's. Events go to the log file,
to the ``serving.server.supervisor`` logger and to ``events``.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..metrics import samples

log = logging.getLogger("serving.server.supervisor")

STUB_BINARY = "triton_python_backend_stub"
ADMIN_HEADER = "tvo-admin"
# A server that dies while serving is always started again; one that cannot start (a broken
# model, a port taken) is outside the supervisor's reach: after this many failed starts in a
# row it gives up and says so (serving.server then exits 1; a container restarts).
MAX_FAILED_STARTS = 3
# A model's unload normally finishes well within this (the measured times: docs/serving.md,
# Failure and recovery); longer means Triton is stuck on the dead stub.
UNLOAD_TIMEOUT_S = 5.0


class SupervisorError(RuntimeError):
    """tritonserver could not be started or brought back; the message says why."""


@dataclass(frozen=True)
class Event:
    """One thing the supervisor saw or did: when (time.time()), its kind, and a readable detail."""
    time: float
    kind: str    # "server-exit", "restarted", "stub-dead", "wedged", "recovered", "failed", "shm"
    detail: str


@dataclass(frozen=True)
class Stub:
    """One Python-backend stub process: pid, model, instance name, /dev/shm region, /proc state."""
    pid: int
    model: str
    instance: str
    region: str
    state: str = "S"  # /proc state: R, S, D, T (stopped), ...


def new_shm_prefix() -> str:
    """A /dev/shm name prefix for one server's stub regions.

    Returns:
        ``tvo_<8 random hex digits>_``.
    """
    return f"tvo_{secrets.token_hex(4)}_"


def caller_manages_models(extra: Sequence[str]) -> bool:
    """Whether the caller's tritonserver flags choose the model-control mode.

    Args:
        extra: the caller's tritonserver flags.

    Returns:
        True when they do (the caller then loads and unloads models itself).
    """
    return any(a.startswith("--model-control-mode") for a in extra)


def supervised_flags(extra: Sequence[str], shm_prefix: str, admin_token: str) -> list[str]:
    """tritonserver flags the supervisor needs, added to ``extra``.

    Without a ``--model-control-mode`` of the caller's: explicit mode with every model loaded
    at start, and the model-repository API restricted to the supervisor (a header only it
    knows), so no client can unload a model. With the caller's own mode the caller manages
    models (e.g. the pipeline tutorial loads its own through the API), and the supervisor
    only restarts a dead server (``caller_manages_models``).

    Args:
        extra: the caller's tritonserver flags.
        shm_prefix: this server's stub region prefix (``new_shm_prefix``).
        admin_token: the secret value of ``ADMIN_HEADER``.

    Returns:
        The flags to add (not ``extra`` itself).

    Raises:
        SupervisorError: ``extra`` sets shm-region-prefix-name, by which the supervisor finds
            its stubs.
    """
    flags: list[str] = []
    if not caller_manages_models(extra):
        restriction = f"model-repository:{ADMIN_HEADER}={admin_token}"
        flags += ["--model-control-mode=explicit", "--load-model=*",
                  f"--http-restricted-api={restriction}", f"--grpc-restricted-protocol={restriction}"]
    if any("shm-region-prefix-name" in a for a in extra):
        raise SupervisorError("shm-region-prefix-name is set by the supervisor (it finds its "
                              "stubs and their /dev/shm regions by it)")
    return flags + [f"--backend-config=python,shm-region-prefix-name={shm_prefix}"]


def read_stub(pid: int) -> Stub | None:
    """The Python-backend stub running as ``pid``.

    A stub's command line is: binary, model.py path, region, sizes, parent pid, backend
    folder, IPC handle, instance name, kind.

    Args:
        pid: a process id.

    Returns:
        The stub, or None for any other process, or one gone.
    """
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not args[0].endswith(STUB_BINARY.encode()) or len(args) < 9:
            return None
        model = Path(args[1].decode()).parts[-3]  # <repository>/<model>/<version>/model.py
        return Stub(pid, model, args[8].decode(), args[2].decode(), (_stat(pid) or [""])[0])
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def find_stubs(shm_prefix: str) -> list[Stub]:
    """The live (not zombie) stubs whose region starts with ``shm_prefix``: one server's.

    Args:
        shm_prefix: the server's region prefix.

    Returns:
        The stubs, in /proc order.
    """
    stubs = (read_stub(int(e.name)) for e in os.scandir("/proc") if e.name.isdigit())
    return [s for s in stubs if s is not None and s.region.startswith(shm_prefix)
            and s.state not in ("Z", "X", "")]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, ... ([] when gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def parent_pid(pid: int) -> int | None:
    """The parent of a process.

    Args:
        pid: a process id.

    Returns:
        Its parent's pid, or None when it is gone.
    """
    fields = _stat(pid)
    return int(fields[1]) if len(fields) > 1 else None


def process_gone(pid: int) -> bool:
    """Exited (a zombie counts: it runs nothing and holds no memory).

    Args:
        pid: a process id.

    Returns:
        True when there is no such process or it is a zombie.
    """
    fields = _stat(pid)
    return not fields or fields[0] in ("Z", "X")


def instances_by_model(stubs: Sequence[Stub]) -> dict[str, set[str]]:
    """model -> the names of its instances that have a stub process.

    Args:
        stubs: stub processes (``find_stubs``).

    Returns:
        Model name -> instance names.
    """
    out: dict[str, set[str]] = {}
    for stub in stubs:
        out.setdefault(stub.model, set()).add(stub.instance)
    return out


def _kill_and_wait(stubs: Sequence[Stub], timeout: float = 5.0) -> None:
    """SIGKILL the stubs and wait until each is gone or a zombie."""
    for stub in stubs:
        try:
            os.kill(stub.pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(process_gone(s.pid) for s in stubs):
        time.sleep(0.02)


def shm_regions(shm_prefix: str) -> list[str]:
    """The /dev/shm regions whose name starts with ``shm_prefix``.

    Args:
        shm_prefix: a server's region prefix.

    Returns:
        Their names, sorted (none when /dev/shm cannot be read).
    """
    try:
        return sorted(n for n in os.listdir("/dev/shm") if n.startswith(shm_prefix))
    except OSError:
        return []


def remove_regions(names: Sequence[str]) -> list[str]:
    """Unlink /dev/shm regions (a process that still maps one keeps its memory).

    Args:
        names: region names under /dev/shm.

    Returns:
        The names removed (one already gone, or not removable, is skipped).
    """
    removed = []
    for n in names:
        try:
            os.unlink(f"/dev/shm/{n}")
            removed.append(n)
        except OSError:
            pass
    return removed


def describe_exit(returncode: int) -> str:
    """A process's exit, in words.

    Args:
        returncode: Popen.returncode (negative: the signal that killed it).

    Returns:
        E.g. 'killed by SIGKILL' or 'exited with status 1'.
    """
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


# Log lines that say why tritonserver died (C++ aborts, Triton's own errors, the stub's).
_CAUSE = re.compile(r"terminate called|what\(\)|Signal \(\d+\)|Aborted|bad_alloc|"
                    r"Segmentation|^E\d{4} |error:", re.I)


def exit_cause(log_text: str, lines: int = 4) -> str:
    """Why the server stopped, from the end of its log.

    Args:
        log_text: the log since the server's launch.
        lines: how many lines at most.

    Returns:
        Of the last 40 lines (the supervisor's and the stubs' own left out), those that tell
        why, else the last ones (a SIGKILL leaves nothing); joined with ' | ', at most 1000
        characters.
    """
    # Stubs outliving the server log their own "Non-graceful termination" afterwards.
    tail = [ln.strip() for ln in log_text.splitlines() if ln.strip()
            and not ln.startswith("[supervisor]") and "pb_stub.cc" not in ln][-40:]
    hits = [ln for ln in tail if _CAUSE.search(ln)]
    return " | ".join((hits or tail)[-lines:])[:1000]


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """Triton's per-model inference metrics.

    Args:
        text: the metrics page (Prometheus text format).

    Returns:
        {model: {metric: value}} of the ``nv_inference_*`` samples, summed over labels other
        than the model's.
    """
    out: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for name, labels, value in samples(text, "nv_inference_"):
        if "model" in labels:
            d = out[labels["model"]]
            d[name] = d.get(name, 0.0) + value
    return out


def wedged_models(metrics: dict[str, dict[str, float]], models: Iterable[str],
                  progress: dict[str, tuple[float, float]], now: float,
                  wedge_s: float) -> dict[str, str]:
    """Models with requests waiting and no execution finished (successful or failed) for ``wedge_s``.

    Args:
        metrics: what ``parse_metrics`` returns.
        models: the models to judge.
        progress: model -> (executions seen, since when); updated in place.
        now: the time of ``metrics`` (time.monotonic()).
        wedge_s: seconds without progress that make a model wedged.

    Returns:
        Wedged model -> why, in words.
    """
    out = {}
    for model in models:
        m = metrics.get(model, {})
        done = m.get("nv_inference_exec_count", 0.0) + m.get("nv_inference_request_failure", 0.0)
        pending = m.get("nv_inference_pending_request_count", 0.0)
        last, since = progress.setdefault(model, (done, now))
        if done != last or pending == 0:
            progress[model] = (done, now)
        elif now - since >= wedge_s:
            out[model] = (f"{pending:.0f} request(s) waiting and no execution finished "
                          f"for {now - since:.0f} s")
    return out


class Supervisor:
    """Runs ``command`` (a tritonserver command line with ``supervised_flags``) and keeps it
    and its models serving until ``stop``."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str], cwd: Path,
                 http_url: str, metrics_url: str, log_path: Path, shm_prefix: str,
                 admin_token: str, ready_timeout: float = 180.0, poll_s: float = 0.25,
                 wedge_s: float = 20.0, manage_models: bool = True):
        """Prepare supervision; nothing runs before ``start``.

        Args:
            command: the tritonserver command line, with ``supervised_flags``.
            env: its environment.
            cwd: its working folder.
            http_url: its HTTP host:port (health, model control).
            metrics_url: its metrics host:port (wedge detection).
            log_path: its log file (appended to; the supervisor's events go there too).
            shm_prefix: its stub region prefix.
            admin_token: the secret value of ``ADMIN_HEADER``.
            ready_timeout: seconds a start or a model load may take.
            poll_s: seconds between checks.
            wedge_s: seconds without progress, requests waiting, that make a model wedged.
            manage_models: recover dead or wedged models too (False: only a dead server).
        """
        self.command = list(command)
        self.env, self.cwd = env, cwd
        self.http_url, self.metrics_url = http_url, metrics_url
        self.log_path = Path(log_path)
        self.shm_prefix, self.admin_token = shm_prefix, admin_token
        self.ready_timeout, self.poll_s, self.wedge_s = ready_timeout, poll_s, wedge_s
        # False when the caller loads and unloads models itself: its reloads look like dying
        # stubs, and its loads create regions before their stubs exist, so only the server
        # process is supervised then.
        self.manage_models = manage_models
        self.proc: subprocess.Popen | None = None
        self.events: list[Event] = []
        self.failed: str | None = None  # why it gave up; the caller should exit
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_offset = 0
        self._failed_starts = 0
        self._instances: dict[str, set[str]] = {}   # model -> stub instance names seen
        self._wanted: set[str] = set()               # models that should be READY
        self._broken: dict[str, float] = {}          # model -> when to retry loading it
        self._progress: dict[str, tuple[float, float]] = {}  # model -> (done count, since)
        self._next_metrics = 0.0

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> "Supervisor":
        """Start tritonserver, wait until it is ready, then supervise it in a thread.

        Returns:
            self.

        Raises:
            SupervisorError: tritonserver exited or was not ready in ``ready_timeout`` (it is
                stopped and cleaned up first).
        """
        self._launch()
        try:
            self._wait_ready(self.ready_timeout)
        except BaseException:
            self._terminate()
            raise
        self._snapshot()
        self._thread = threading.Thread(target=self._loop, name="triton-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop supervising, stop tritonserver (SIGTERM, then SIGKILL after 30 s) and remove what it
        leaves: stub processes and /dev/shm regions.
        """
        self._stopping.set()
        if self._thread is not None:
            # A recovery in progress may be waiting on a model load (up to ready_timeout):
            # stopping tritonserver ends that wait, and nothing is started once stopping.
            self._thread.join(timeout=self.poll_s + 2.0)
            if self._thread.is_alive():
                self._terminate()
                self._thread.join(timeout=30.0)
            self._thread = None
        self._terminate()

    def _launch(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=self.cwd)

    def _terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._clean_after_exit()

    def _kill_server(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _clean_after_exit(self) -> None:
        """Kill the stubs a dead server left (they would exit by themselves within seconds,
        holding memory and GPU memory meanwhile) and remove all of its regions."""
        _kill_and_wait(find_stubs(self.shm_prefix))
        removed = remove_regions(shm_regions(self.shm_prefix))
        if removed:
            log.debug("removed %d /dev/shm region(s)", len(removed))

    # -- HTTP (urllib: the supervisor needs nothing beyond the standard library) --------
    def _request(self, method: str, path: str, body: dict | None = None,
                 timeout: float = 5.0) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://{self.http_url}{path}", data=data, method=method,
                                     headers={ADMIN_HEADER: self.admin_token})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def server_ready(self) -> bool:
        """Whether tritonserver's ready endpoint answers 200.

        Returns:
            False too when it does not answer.
        """
        try:
            return self._request("GET", "/v2/health/ready", timeout=2.0)[0] == 200
        except OSError:
            return False

    def model_states(self) -> dict[str, str]:
        """The state of every model of the repository index.

        Returns:
            {model: state}: READY, LOADING, UNAVAILABLE, ...

        Raises:
            SupervisorError: the index request did not answer 200.
            OSError: the server did not answer.
        """
        status, body = self._request("POST", "/v2/repository/index", {}, timeout=5.0)
        if status != 200:
            raise SupervisorError(f"repository index: HTTP {status}: {body[:200]!r}")
        return {m["name"]: m.get("state", "") for m in json.loads(body)}

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SupervisorError(f"tritonserver {describe_exit(self.proc.returncode)}: "
                                      f"{exit_cause(self._log_since_launch())}")
            if self.server_ready():
                return
            if self._stopping.wait(0.1):
                raise SupervisorError("stopped while tritonserver was starting")
        raise SupervisorError(f"tritonserver not ready after {timeout:.0f} s: "
                              f"{exit_cause(self._log_since_launch())}")

    def _log_since_launch(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _event(self, kind: str, detail: str) -> None:
        self.events.append(Event(time.time(), kind, detail))
        log.warning("%s: %s", kind, detail)
        try:
            with open(self.log_path, "a") as f:
                f.write(f"[supervisor] {time.strftime('%H:%M:%S')} {kind}: {detail}\n")
        except OSError:
            pass

    # -- the loop ----------------------------------------------------------------------
    def _snapshot(self) -> None:
        """What should be serving: every READY model, and the stubs each one runs."""
        if not self.manage_models:
            return
        states = self.model_states()
        self._wanted = {m for m, s in states.items() if s == "READY"}
        self._instances = instances_by_model(find_stubs(self.shm_prefix))
        self._progress.clear()

    def _loop(self) -> None:
        while not self._stopping.wait(self.poll_s):
            try:
                if self.proc.poll() is not None:
                    self._restart_server()
                elif self.manage_models:
                    self._check_models()
            except Exception as e:  # noqa: BLE001 - the supervisor must outlive any one check
                if isinstance(e, OSError) and self.proc.poll() is not None:
                    continue  # the server died during the check: the next round restarts it
                log.exception("supervisor check failed")
                self._event("failed", f"check failed: {type(e).__name__}: {e}")
                self._stopping.wait(1.0)

    def _restart_server(self, why: str | None = None, kill: bool = False) -> None:
        """Start tritonserver again on the same ports, after it exited (or, with ``kill``,
        after killing it for ``why``)."""
        if kill:
            self._kill_server()
        code = self.proc.returncode
        cause = why or exit_cause(self._log_since_launch())
        self._event("server-exit", f"tritonserver {describe_exit(code)} ({cause}); "
                                   f"restarting it on the same ports")
        self._clean_after_exit()
        if self._failed_starts >= MAX_FAILED_STARTS:
            self.failed = (f"tritonserver did not start {self._failed_starts} times in a row; "
                           f"last: {describe_exit(code)} ({cause})")
            self._event("failed", self.failed)
            self._stopping.set()
            return
        if self._stopping.is_set():
            return
        t0 = time.monotonic()
        self._launch()
        try:
            self._wait_ready(self.ready_timeout)
        except SupervisorError as e:
            if self._stopping.is_set():
                return
            self._failed_starts += 1
            self._event("failed", f"restart {self._failed_starts} of {MAX_FAILED_STARTS}: {e}")
            self._kill_server()  # up but never ready: the next round starts it again
            self._stopping.wait(min(2.0 ** self._failed_starts, 30.0))
            return
        self._failed_starts = 0
        self._snapshot()
        self._broken.clear()
        self._event("restarted", f"tritonserver ready again in {time.monotonic() - t0:.1f} s "
                                 f"(pid {self.proc.pid})")

    def _check_models(self) -> None:
        stubs = find_stubs(self.shm_prefix)
        live = instances_by_model(stubs)
        dead = {m: sorted(names - live.get(m, set())) for m, names in self._instances.items()
                if names - live.get(m, set())}
        now = time.monotonic()
        wedged = self._wedged(now) if now >= self._next_metrics else {}
        # A stopped stub (SIGSTOP, a debugger) never answers; Triton then fails every request
        # to it as "not healthy" without restarting it.
        for stub in stubs:
            if stub.state in ("T", "t") and stub.model in self._instances:
                wedged.setdefault(stub.model, f"stub process of {stub.instance} (pid {stub.pid}) "
                                              f"is stopped")
        if dead or wedged or any(now >= t for t in self._broken.values()):
            states = self.model_states()
            # What should be READY: what Triton reports READY now (a dead stub's model still
            # is), and while a load keeps failing, what should have come back with it.
            ready = {m for m, s in states.items() if s == "READY"}
            self._wanted = ready | (self._wanted if self._broken else set())
            # A recovery that had to restart the whole server ends this round (_recover
            # returns False): everything was checked afresh by the restart.
            for model, instances in dead.items():
                if states.get(model) == "READY":
                    if not self._recover(model, "stub-dead", f"stub process of "
                                         f"{', '.join(instances)} is gone while Triton reports "
                                         f"{model} READY"):
                        return
                else:  # unloaded or being reloaded by the caller: not ours to bring back
                    self._instances[model] = live.get(model, set())
            for model, why in wedged.items():
                if model not in dead and not self._recover(model, "wedged", why, kill=True):
                    return
            for model, when in list(self._broken.items()):
                if now >= when and not self._recover(model, "failed", "retrying the load"):
                    return
        # Models loaded meanwhile (by the caller, or ours coming back): watch their stubs.
        for model, names in live.items():
            self._instances.setdefault(model, set()).update(names)

    def _wedged(self, now: float) -> dict[str, str]:
        """Stub models with requests waiting and no execution finished for wedge_s."""
        self._next_metrics = now + 1.0
        try:
            with urllib.request.urlopen(f"http://{self.metrics_url}/metrics", timeout=2.0) as r:
                metrics = parse_metrics(r.read().decode())
        except OSError:
            return {}
        return wedged_models(metrics, self._instances, self._progress, now, self.wedge_s)

    def _recover(self, model: str, kind: str, why: str, kill: bool = False) -> bool:
        """Unload ``model`` (readiness goes false for it, its dependents and the server), load
        it again, then everything that should be READY and is not. False when that took a
        restart of the whole server."""
        self._event(kind, f"{model}: {why}; reloading it")
        t0 = time.monotonic()
        if kill:
            _kill_and_wait([s for s in find_stubs(self.shm_prefix) if s.model == model])
        self._request("POST", f"/v2/repository/models/{model}/unload", {}, timeout=60.0)
        # Load only once the unload is done: a load waiting on it would hold Triton's
        # model-state lock, so the ready endpoints would hang instead of answering false.
        if not self._wait_unloaded(model):
            # 2.51 can hang in a dead stub's health mutex, or abort on it (how long:
            # docs/serving.md, Failure and recovery): a fresh server is back sooner.
            self._restart_server(f"unloading {model} did not finish in {UNLOAD_TIMEOUT_S:.0f} s "
                                 f"(Triton waits on its dead stub)", kill=True)
            return False
        status, body = self._request("POST", f"/v2/repository/models/{model}/load", {},
                                     timeout=self.ready_timeout)
        self._progress.pop(model, None)
        self._instances.pop(model, None)
        if status != 200:
            self._broken[model] = time.monotonic() + 5.0
            self._event("failed", f"{model}: load failed (HTTP {status}): "
                                  f"{body.decode(errors='replace')[:300]}; retrying in 5 s")
            return True
        self._broken.pop(model, None)
        # Ensembles that use the model were unloaded with it; Triton reloads them with it,
        # and this makes sure of it.
        states = self.model_states()
        for other in sorted(self._wanted):
            if states.get(other) != "READY":
                self._request("POST", f"/v2/repository/models/{other}/load", {},
                              timeout=self.ready_timeout)
        self._remove_leftover_regions()
        self._event("recovered", f"{model} serving again after {time.monotonic() - t0:.1f} s")
        return True

    def _wait_unloaded(self, model: str) -> bool:
        deadline = time.monotonic() + UNLOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.model_states().get(model) not in ("READY", "UNLOADING"):
                    return True
            except OSError:
                pass  # not answering meanwhile
            time.sleep(0.05)
        return False

    def _remove_leftover_regions(self) -> None:
        """Regions of this server that no live stub uses (a killed stub's)."""
        used = {s.region for s in find_stubs(self.shm_prefix)}
        removed = remove_regions([r for r in shm_regions(self.shm_prefix) if r not in used])
        if removed:
            self._event("shm", f"removed {len(removed)} /dev/shm region(s) of dead stubs")
