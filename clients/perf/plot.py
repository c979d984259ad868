"""Throughput vs p99 latency plot of perf_analyzer rows, one line per configuration."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def plot_throughput_latency(rows: list[dict], path: Path) -> Path:
    """Plot throughput against p99 latency, one line per configuration, points labelled by
    concurrency.

    Args:
        rows: perf_analyzer CSV rows with model, workload, protocol and shm added (sweep's).
        path: the PNG to write (its folder is created).

    Returns:
        ``path``.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for r in rows:
        label = f"{r['model']} {r['workload']} {r['protocol']} shm={r['shm']}"
        lines[label].append((float(r["p99 latency"]) / 1000.0,
                             float(r["Inferences/Second"]), int(r["Concurrency"])))
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, pts in sorted(lines.items()):
        pts.sort(key=lambda p: p[2])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        for lat, thr, conc in pts:
            ax.annotate(str(conc), (lat, thr), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel("p99 latency (ms)")
    ax.set_ylabel("throughput (infer/s)")
    ax.set_title("perf_analyzer: throughput vs p99 latency (labels: concurrency)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
