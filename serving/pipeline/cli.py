"""Command line of the pipeline tools."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPO = ROOT / "model_repository"


def cmd_validate(args: argparse.Namespace) -> int:
    problems = validate_repository(args.repository)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {args.repository}", file=sys.stderr)
        return 1
    print(f"{args.repository}: all ensembles valid")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving.pipeline",
                                description="Validate, generate, edit and fuse ensemble pipelines.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check every ensemble of a model repository")
    v.add_argument("repository", nargs="?", type=Path, default=DEFAULT_REPO)
    v.set_defaults(func=cmd_validate)
    args = p.parse_args(argv)
    return args.func(args)
