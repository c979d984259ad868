"""A model repository read through Triton's own protobuf schema (never parsed by hand)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc


@dataclass
class ModelEntry:
    """One model of a repository: its name, its config.pbtxt and the parsed config."""
    name: str
    path: Path          # the config.pbtxt
    config: mc.ModelConfig

    @property
    def is_ensemble(self) -> bool:
        """Whether the model is an ensemble (platform "ensemble")."""
        return self.config.platform == "ensemble"


class ConfigError(Exception):
    """A config.pbtxt that does not parse."""


def load_config(path: Path) -> mc.ModelConfig:
    """Parse a config.pbtxt with Triton's schema.

    Args:
        path: the file.

    Returns:
        The config.

    Raises:
        ConfigError: the text does not parse; the message starts with ``path``.
    """
    try:
        return text_format.Parse(Path(path).read_text(), mc.ModelConfig())
    except text_format.ParseError as e:
        raise ConfigError(f"{path}: {e}") from None


def config_dict(config: mc.ModelConfig) -> dict:
    """A config as the dict Triton hands a Python model (its JSON form, proto field names).

    Args:
        config: the ModelConfig.
    Returns:
        The dict (int64 fields such as dims as strings, as in Triton's JSON).
    """
    return json_format.MessageToDict(config, preserving_proto_field_name=True)


def config_text(config: mc.ModelConfig) -> str:
    """Canonical config.pbtxt text of a config.

    Args:
        config: the config.

    Returns:
        protobuf's text format of it.
    """
    return text_format.MessageToString(config)


def load_repository(repo: Path) -> tuple[dict[str, ModelEntry], list[str]]:
    """Every model of a repository by name, and the errors met on the way.

    Args:
        repo: the model repository (``*/config.pbtxt`` are read).

    Returns:
        (name -> ModelEntry, errors): a config that does not parse is left out and reported; a
        name that differs from its folder is kept and reported.
    """
    models: dict[str, ModelEntry] = {}
    errors: list[str] = []
    for cfg in sorted(Path(repo).glob("*/config.pbtxt")):
        try:
            config = load_config(cfg)
        except ConfigError as e:
            errors.append(str(e))
            continue
        name = config.name or cfg.parent.name
        if config.name and config.name != cfg.parent.name:
            errors.append(f"{cfg}: name {config.name!r} differs from its folder "
                          f"{cfg.parent.name!r} (Triton requires them equal)")
        models[name] = ModelEntry(name, cfg, config)
    return models, errors


def model_py(cls: type, summary: str) -> str:
    """The text of a generated ``1/model.py``: it gives Triton ``cls`` as TritonPythonModel.

    Args:
        cls: the class serving the model (an installed package's: the project is installed).
        summary: one line saying what the model does, for the file's docstring.

    Returns:
        The file's text.
    """
    return (f'"""Triton model: {summary} See {cls.__module__}.{cls.__qualname__}."""\n'
            f"from {cls.__module__} import {cls.__qualname__} as TritonPythonModel  # noqa: F401\n")


def write_files(repo: Path, files: dict[Path, str]) -> list[Path]:
    """Write generated files, folders included.

    Args:
        repo: the folder the paths are relative to.
        files: relative path -> text.

    Returns:
        The paths written.
    """
    written = []
    for rel, text in files.items():
        p = Path(repo) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        written.append(p)
    return written


def differing_files(repo: Path, files: dict[Path, str]) -> list[Path]:
    """The generated files that are missing from the repository or differ from their text.

    Args:
        repo: the folder the paths are relative to.
        files: relative path -> the text it should have.

    Returns:
        Their paths (empty when all are current).
    """
    return [Path(repo) / rel for rel, text in files.items()
            if not (Path(repo) / rel).exists() or (Path(repo) / rel).read_text() != text]
