"""Triton's metrics: the families our models export from their stubs, and reading the
metrics page (Prometheus text format)."""
from __future__ import annotations

import re
from typing import Any, Iterator

_SAMPLE = re.compile(r'(\w+)\{([^}]*)\}\s+(\S+)')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def samples(text: str, prefix: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """The labelled samples of a metrics page whose name starts with ``prefix``.

    Args:
        text: the page, Prometheus text format (Triton's /metrics).
        prefix: the start of the metric names wanted, e.g. ``nv_inference_``.

    Returns:
        An iterator of (metric name, labels, value); samples without labels are skipped.
    """
    for line in text.splitlines():
        if line.startswith(prefix):
            m = _SAMPLE.match(line)
            if m:
                yield m.group(1), dict(_LABEL.findall(m.group(2))), float(m.group(3))


def metric_family(pb_utils: Any, name: str, description: str, kind: str) -> Any:
    """A metric family a stub exports through Triton's metrics endpoint (one per process).

    Args:
        pb_utils: Triton's ``triton_python_backend_utils``.
        name, description: the metric's name and help text.
        kind: "COUNTER" or "GAUGE".
    Returns:
        A ``pb_utils.MetricFamily``.
    """
    return pb_utils.MetricFamily(name=name, description=description,
                                 kind=getattr(pb_utils.MetricFamily, kind))
