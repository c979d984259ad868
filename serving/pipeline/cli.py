"""Command line of the pipeline tools: python -m serving.pipeline COMMAND.

    validate [REPO]                      check every ensemble of a model repository
    generate [SPEC...] [--check]         (re)generate config.pbtxt files: without SPEC the
                                         operator models' (from their classes) and every spec's
    new NAME [--from SPEC] [--input N:DTYPE:DIMS ...] [--output ...]
    add-step SPEC --model M --input K=V ... --output K=V ... [--param K=V ...] [--at I]
             [--reroute TENSOR]
    remove-step SPEC (--index I | --model M)
    set-param SPEC (--index I | --model M) --param K=V ...
    fuse SPEC                            one Python model running the whole chain
    load NAME [--url HOST:PORT]          load a model into a running server

SPEC is a path or a pipeline name (pipelines/NAME.yaml). Every edit regenerates the
configs and validates the repository.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .ensemble import stale_files, write_generated
from .spec import SpecError, load_spec
from .. import registry
from ..paths import MODEL_REPOSITORY, PIPELINES, REPO_ROOT
from .docs import docs_files
from .operators import stale_operators, write_operators
from .fuse import fused_files
from .repository import differing_files, load_repository, write_files
from .repository_models import known_parameters
from .edit import cmd_add_step, cmd_new, cmd_remove_step, cmd_set_param, resolve_spec
from .validate import report_problems, validate_repository

DEFAULT_REPO = MODEL_REPOSITORY
DEFAULT_SPECS = PIPELINES


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: report every problem of the repository's ensembles.

    Args:
        args: the parsed command line (``repository``).

    Returns:
        The exit status: 0 when valid, 1 with problems.
    """
    return report_problems(validate_repository(args.repository, known_parameters), args.repository)


def cmd_generate(args: argparse.Namespace) -> int:
    """``generate``: write (or with ``--check`` only compare) every generated file.

    Without SPEC: the operator models' files, the docs' tables (for the project's own
    repository), every spec's files, then every fused model's; with SPEC only those specs' and
    the fused models'.

    Args:
        args: the parsed command line (``spec``, ``specs``, ``repository``, ``check``).

    Returns:
        The exit status: with ``--check`` 1 when a file differs, else 0; otherwise 0 when the
        repository validates afterwards, 1 with problems.

    Raises:
        SpecError: a spec that does not load.
    """
    paths = [resolve_spec(s, args.specs) for s in args.spec] or sorted(args.specs.glob("*.yaml"))
    stale: list[tuple[Path, str]] = []  # (file, what generates it, in words)
    if not args.spec:
        # Without specs named: the operator models' configs (from their classes) first, as
        # the spec's step copies derive from the same declarations; with the project's own
        # repository, the docs' tables too.
        docs = docs_files(REPO_ROOT) if args.repository.resolve() == DEFAULT_REPO.resolve() else {}
        if args.check:
            stale += [(p, _source(p)) for p in stale_operators(args.repository)]
            stale += [(p, "the models' declarations generate") for p in differing_files(REPO_ROOT, docs)]
        else:
            for p in write_operators(args.repository) + write_files(REPO_ROOT, docs):
                print(f"wrote {p}")
    for path in paths:
        spec = load_spec(path)
        if args.check:
            stale += [(p, _source(p)) for p in stale_files(spec, args.repository)]
        else:
            for p in write_generated(spec, args.repository):
                print(f"wrote {p}")
    # Last: a fused model holds its steps' configs, which the above may have rewritten.
    for name, files in fused_models(args.repository).items():
        if args.check:
            stale += [(p, "its spec and its steps' configs generate")
                      for p in differing_files(args.repository, files)]
        else:
            for p in write_files(args.repository, files):
                print(f"wrote {p}")
    if args.check:
        for p, source in stale:
            print(f"{p}: differs from what {source}; run "
                  f"python -m serving.pipeline generate")
        return 1 if stale else 0
    return report_problems(validate_repository(args.repository, known_parameters), args.repository)


def fused_models(repo: Path) -> dict[str, dict[Path, str]]:
    """Each fused model of a repository and the files that generate it.

    Args:
        repo: the model repository.

    Returns:
        Fused model name (a config naming its ``pipeline_spec``) -> relative path -> the text
        its spec and its steps' current configs generate.

    Raises:
        SpecError: a fused model whose spec does not load or whose steps do not resolve.
    """
    out = {}
    for name, entry in load_repository(repo)[0].items():
        if "pipeline_spec" in entry.config.parameters:
            spec = Path(entry.config.parameters["pipeline_spec"].string_value)
            out[name] = fused_files(load_spec(spec if spec.is_absolute() else REPO_ROOT / spec), name, repo)
    return out


def _source(path: Path) -> str:
    """What generates a model's file, in words: its model's class, else its spec."""
    model = path.parent.parent.name if path.name == "model.py" else path.parent.name
    cls = registry.MODELS.get(model)
    return f"its class {cls.__module__}.{cls.__qualname__} generates" if cls is not None else "its spec generates"


def cmd_fuse(args: argparse.Namespace) -> int:
    """``fuse``: write a fused model of a spec (config.pbtxt and model.py).

    Args:
        args: the parsed command line (``spec``, ``name``, ``specs``, ``repository``).

    Returns:
        0.

    Raises:
        SpecError: the spec does not load, or a step is not one of the repository's operator
            models.
    """
    spec = load_spec(resolve_spec(args.spec, args.specs))
    for p in write_files(args.repository, fused_files(spec, args.name, args.repository)):
        print(f"wrote {p}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    """``load``: load (or reload) a model into a running server through the model control API.

    Args:
        args: the parsed command line (``name``, ``url``: the server's HTTP host:port).

    Returns:
        The exit status: 0 when loaded, 1 when the server refused (the reason on stderr).
    """
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    client = http.InferenceServerClient(args.url)
    try:
        client.load_model(args.name)
    except InferenceServerException as e:
        hint = ("; a supervised server (python -m serving.server) keeps model control to itself "
                "unless started with `-- --model-control-mode=explicit` (docs/serving.md, "
                "Failure and recovery)") if "restricted" in str(e) else ""
        print(f"error: {args.name} did not load: {e}{hint}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"{args.name} is loaded and ready on {args.url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m serving.pipeline``.

    Returns:
        The parser; each subcommand sets ``func``, the ``cmd_*`` function that runs it.
    """
    p = argparse.ArgumentParser(prog="python -m serving.pipeline",
                                description="Validate, generate, edit and fuse ensemble pipelines.")
    p.add_argument("--repository", type=Path, default=DEFAULT_REPO, help="model repository")
    p.add_argument("--specs", type=Path, default=DEFAULT_SPECS, help="folder of pipeline specs")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check every ensemble of a model repository")
    v.add_argument("repo", nargs="?", type=Path)
    v.set_defaults(func=cmd_validate)

    g = sub.add_parser("generate", help="regenerate config.pbtxt files from specs")
    g.add_argument("spec", nargs="*")
    g.add_argument("--check", action="store_true", help="only report files that differ")
    g.set_defaults(func=cmd_generate)

    n = sub.add_parser("new", help="create a pipeline spec")
    n.add_argument("name")
    n.add_argument("--from", dest="from_spec", help="start as a copy of this spec")
    n.add_argument("--input", action="append", help="NAME:DTYPE:DIMS, e.g. IMAGE:UINT8:-1,-1,3")
    n.add_argument("--output", action="append")
    n.add_argument("--max-batch-size", type=int, default=8)
    n.add_argument("--description")
    n.set_defaults(func=cmd_new)

    a = sub.add_parser("add-step", help="add a step to a spec")
    a.add_argument("spec")
    a.add_argument("--model", required=True)
    a.add_argument("--input", action="append", help="MODEL_INPUT=TENSOR")
    a.add_argument("--output", action="append", help="MODEL_OUTPUT=TENSOR")
    a.add_argument("--param", action="append", help="KEY=VALUE config parameter")
    a.add_argument("--at", type=int, help="position (default: last)")
    a.add_argument("--reroute", action="append", metavar="TENSOR",
                   help="the other steps reading TENSOR read the new step's output instead")
    a.set_defaults(func=cmd_add_step)

    for name, func, helptext in (("remove-step", cmd_remove_step, "remove a step"),
                                 ("set-param", cmd_set_param, "set a step's parameters")):
        r = sub.add_parser(name, help=helptext)
        r.add_argument("spec")
        r.add_argument("--index", type=int)
        r.add_argument("--model")
        if name == "set-param":
            r.add_argument("--param", action="append", required=True)
        r.set_defaults(func=func)

    ld = sub.add_parser("load", help="load a model into a running server (model control API)")
    ld.add_argument("name")
    ld.add_argument("--url", default="127.0.0.1:8000", help="the server's HTTP host:port")
    ld.set_defaults(func=cmd_load)

    f = sub.add_parser("fuse", help="generate one Python model running a spec's whole chain")
    f.add_argument("spec")
    f.add_argument("--name", help="model name (default: <pipeline>_fused)")
    f.set_defaults(func=cmd_fuse)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command of ``python -m serving.pipeline``.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: the command's, or 2 for a malformed spec or arguments (on stderr).
    """
    args = build_parser().parse_args(argv)
    if args.command == "validate" and args.repo is not None:
        args.repository = args.repo
    if args.command in ("remove-step", "set-param") and (args.index is None) == (args.model is None):
        print("give exactly one of --index or --model", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
