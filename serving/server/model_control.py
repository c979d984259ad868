"""tritonserver's model-control API, kept to the supervisor: the flags that restrict it to a
secret header (``supervised_flags``) and the client that uses it (``ModelControl``; urllib:
the supervisor needs nothing beyond the standard library)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Sequence

ADMIN_HEADER = "tvo-admin"


class SupervisorError(RuntimeError):
    """tritonserver could not be started or brought back; the message says why."""


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


class ModelControl:
    """tritonserver's health and model-repository endpoints over HTTP, with the admin header."""

    def __init__(self, http_url: str, admin_token: str):
        """Args:
            http_url: the server's HTTP host:port.
            admin_token: the secret value of ``ADMIN_HEADER``.
        """
        self.http_url, self.admin_token = http_url, admin_token

    def request(self, method: str, path: str, body: dict | None = None,
                timeout: float = 5.0) -> tuple[int, bytes]:
        """One request to the server.

        Args:
            method: GET or POST.
            path: e.g. ``/v2/repository/index``.
            body: a JSON body, or None.
            timeout: seconds.

        Returns:
            (HTTP status, body): an error status is returned, not raised.

        Raises:
            OSError: the server did not answer.
        """
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
            return self.request("GET", "/v2/health/ready", timeout=2.0)[0] == 200
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
        status, body = self.request("POST", "/v2/repository/index", {}, timeout=5.0)
        if status != 200:
            raise SupervisorError(f"repository index: HTTP {status}: {body[:200]!r}")
        return {m["name"]: m.get("state", "") for m in json.loads(body)}

    def load(self, model: str, timeout: float) -> tuple[int, bytes]:
        """Load (or reload) ``model``; (HTTP status, body) as ``request``.

        Args:
            model: the model's name in the repository.
            timeout: seconds the load may take.

        Returns:
            (HTTP status, body): an error status is returned, not raised.

        Raises:
            OSError: the server did not answer.
        """
        return self.request("POST", f"/v2/repository/models/{model}/load", {}, timeout=timeout)

    def unload(self, model: str, timeout: float = 60.0) -> tuple[int, bytes]:
        """Unload ``model``; (HTTP status, body) as ``request``.

        Args:
            model, timeout: as ``load``'s, for the unload.

        Returns:
            As ``load``: an error status is returned, not raised.

        Raises:
            OSError: the server did not answer.
        """
        return self.request("POST", f"/v2/repository/models/{model}/unload", {}, timeout=timeout)
