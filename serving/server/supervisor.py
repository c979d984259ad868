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

import logging
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .model_control import ModelControl, SupervisorError
from .diagnosis import describe_exit, exit_cause, parse_metrics, wedged_models
from .stubs import find_stubs, instances_by_model, kill_and_wait, remove_regions, shm_regions

log = logging.getLogger("serving.server.supervisor")

# A server that dies while serving is always started again; one that cannot start (a broken
# model, a port taken) is outside the supervisor's reach: after this many failed starts in a
# row it gives up and says so (serving.server then exits 1; a container restarts).
MAX_FAILED_STARTS = 3
# A model's unload normally finishes well within this (the measured times: docs/serving.md,
# Failure and recovery); longer means Triton is stuck on the dead stub.
UNLOAD_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Event:
    """One thing the supervisor saw or did: when (time.time()), its kind, and a readable detail."""
    time: float
    kind: str    # "server-exit", "restarted", "stub-dead", "wedged", "recovered", "failed", "shm"
    detail: str


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
        self.shm_prefix = shm_prefix
        self.control = ModelControl(http_url, admin_token)
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
        kill_and_wait(find_stubs(self.shm_prefix))
        removed = remove_regions(shm_regions(self.shm_prefix))
        if removed:
            log.debug("removed %d /dev/shm region(s)", len(removed))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SupervisorError(f"tritonserver {describe_exit(self.proc.returncode)}: "
                                      f"{exit_cause(self._log_since_launch())}")
            if self.control.server_ready():
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
        states = self.control.model_states()
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
            states = self.control.model_states()
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
            kill_and_wait([s for s in find_stubs(self.shm_prefix) if s.model == model])
        self.control.unload(model)
        # Load only once the unload is done: a load waiting on it would hold Triton's
        # model-state lock, so the ready endpoints would hang instead of answering false.
        if not self._wait_unloaded(model):
            # 2.51 can hang in a dead stub's health mutex, or abort on it (how long:
            # docs/serving.md, Failure and recovery): a fresh server is back sooner.
            self._restart_server(f"unloading {model} did not finish in {UNLOAD_TIMEOUT_S:.0f} s "
                                 f"(Triton waits on its dead stub)", kill=True)
            return False
        status, body = self.control.load(model, self.ready_timeout)
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
        states = self.control.model_states()
        for other in sorted(self._wanted):
            if states.get(other) != "READY":
                self.control.load(other, self.ready_timeout)
        self._remove_leftover_regions()
        self._event("recovered", f"{model} serving again after {time.monotonic() - t0:.1f} s")
        return True

    def _wait_unloaded(self, model: str) -> bool:
        deadline = time.monotonic() + UNLOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.control.model_states().get(model) not in ("READY", "UNLOADING"):
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
