"""Where a benchmark's results go: bench/results/<name>_<tag>.md (the table people read) and
.json (the numbers behind it)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_report(out_dir: Path, name: str, tag: str, markdown: str, data: Any) -> Path:
    """Write ``<out_dir>/<name>_<tag>.md`` and ``.json``, print the table and where it went;
    returns the path without suffix."""
    stem = Path(out_dir) / f"{name}_{tag}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1))
    stem.with_suffix(".md").write_text(markdown)
    print(markdown)
    print(f"wrote {stem}.md, .json")
    return stem
