"""Reading Triton's metrics page (Prometheus text format)."""
from __future__ import annotations

import re
from typing import Iterator

_SAMPLE = re.compile(r'(\w+)\{([^}]*)\}\s+(\S+)')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def samples(text: str, prefix: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(metric name, labels, value) of every labelled sample whose name starts with prefix."""
    for line in text.splitlines():
        if line.startswith(prefix):
            m = _SAMPLE.match(line)
            if m:
                yield m.group(1), dict(_LABEL.findall(m.group(2))), float(m.group(3))
