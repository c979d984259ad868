"""What tritonserver's exit status, log and metrics say: why it died, and which models are
wedged (requests waiting, no execution finished)."""
from __future__ import annotations

import collections
import re
import signal
from typing import Iterable

from ..metrics import samples


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
