"""Where the time goes: per-model queue and compute times from Triton's statistics API."""
from __future__ import annotations

from typing import Any


def model_stats(url: str) -> dict[str, dict[str, float]]:
    """Cumulative statistics per model: counts and total ns of queue/compute phases.

    Args:
        url: the server's HTTP host:port.

    Returns:
        Model -> {inference_count, execution_count, success_ns, queue_ns, compute_input_ns,
        compute_infer_ns, compute_output_ns, requests}, all floats.
    """
    import tritonclient.http as http

    client = http.InferenceServerClient(url)
    try:
        stats = client.get_inference_statistics()
    finally:
        client.close()
    out: dict[str, dict[str, float]] = {}
    for m in stats["model_stats"]:
        inf = m["inference_stats"]
        out[m["name"]] = {
            "inference_count": float(m.get("inference_count", 0)),
            "execution_count": float(m.get("execution_count", 0)),
            **{f"{k}_ns": float(inf[k]["ns"]) for k in
               ("success", "queue", "compute_input", "compute_infer", "compute_output")},
            "requests": float(inf["success"]["count"]),
        }
    return out


def diff_stats(after: dict[str, dict[str, float]],
               before: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Statistics accumulated between two snapshots.

    Args:
        after: the later ``model_stats``.
        before: the earlier one.

    Returns:
        The differences, for the models that served requests in between.
    """
    out = {}
    for name, a in after.items():
        b = before.get(name, {})
        d = {k: v - b.get(k, 0.0) for k, v in a.items()}
        if d["requests"] > 0:
            out[name] = d
    return out


def per_request_table(delta: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Mean µs per request of each phase, and the mean batch size per execution.

    Args:
        delta: what ``diff_stats`` returns.

    Returns:
        One row per model, sorted by name.
    """
    rows = []
    for name, d in sorted(delta.items()):
        n = d["requests"]
        rows.append({
            "model": name,
            "requests": int(n),
            "mean_batch": round(d["inference_count"] / d["execution_count"], 2)
            if d["execution_count"] else 0.0,
            "queue_us": round(d["queue_ns"] / n / 1e3, 1),
            "compute_input_us": round(d["compute_input_ns"] / n / 1e3, 1),
            "compute_infer_us": round(d["compute_infer_ns"] / n / 1e3, 1),
            "compute_output_us": round(d["compute_output_ns"] / n / 1e3, 1),
            "total_us": round(d["success_ns"] / n / 1e3, 1),
        })
    return rows
