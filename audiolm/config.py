"""One config system: dataclass schemas + YAML files + ``key=value`` overrides through OmegaConf.

A YAML file may start from other files with ``_base_: [relative/path.yaml, ...]`` so that an
ablation is a few lines over a base (descript-audio-codec style). Merging into a structured
dataclass makes an unknown key or a wrong type an error that names the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the file and key."""


def resolve_config_path(name: str | Path, group: str | None = None) -> Path:
    """Find a config by path, or by short name inside ``conf/<group>/``."""
    p = Path(name)
    if p.is_file():
        return p
    candidates = []
    if group is not None:
        candidates += [CONF_DIR / group / p, CONF_DIR / group / f"{p}.yaml"]
    candidates += [CONF_DIR / p, CONF_DIR / f"{p}.yaml"]
    for c in candidates:
        if c.is_file():
            return c
    where = f"conf/{group}/" if group else "conf/"
    raise ConfigError(f"config {str(name)!r} not found (looked for the file and in {where})")


def load_yaml_with_bases(path: str | Path, _seen: tuple[Path, ...] = ()) -> DictConfig:
    """Load a YAML file, merging its ``_base_`` files first (paths relative to the file)."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: circular _base_ chain {[str(p) for p in _seen]}")
    try:
        node = OmegaConf.load(path)
    except Exception as e:  # yaml errors
        raise ConfigError(f"{path}: cannot parse YAML: {e}") from e
    if not isinstance(node, DictConfig):
        raise ConfigError(f"{path}: top level must be a mapping")
    bases = node.pop("_base_", None) or []
    if isinstance(bases, str):
        bases = [bases]
    merged = OmegaConf.create({})
    for b in bases:
        merged = OmegaConf.merge(merged, load_yaml_with_bases(path.parent / b, _seen + (path,)))
    return OmegaConf.merge(merged, node)


def _merge_one(base: DictConfig, other: Any, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or getattr(e, "key", None)
        raise ConfigError(f"{source}: bad config key {key!r}: {e.msg if hasattr(e, 'msg') else e}") from None


def load_config(
    schema: type[T],
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    group: str | None = None,
) -> T:
    """Build a ``schema`` dataclass instance from defaults < YAML file < ``key=value`` overrides.

    Unknown keys and wrong types raise :class:`ConfigError` naming the key.
    """
    cfg = OmegaConf.structured(schema)
    if path is not None:
        p = resolve_config_path(path, group)
        cfg = _merge_one(cfg, load_yaml_with_bases(p), str(p))
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r} is not of the form key=value")
        cfg = _merge_one(cfg, OmegaConf.from_dotlist([ov]), f"override {ov!r}")
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        raise ConfigError(f"incomplete config: {e}") from None
    return obj  # type: ignore[return-value]


def config_from_dict(schema: type[T], data: dict) -> T:
    """Rebuild a config from a plain dict (e.g. a checkpoint's hyper-parameters), strictly."""
    cfg = _merge_one(OmegaConf.structured(schema), OmegaConf.create(data), "checkpoint config")
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def to_dict(cfg: Any) -> dict:
    """Plain-Python dict of a config dataclass (safe for ``torch.load(weights_only=True)``)."""
    if dataclasses.is_dataclass(cfg):
        return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(OmegaConf.to_yaml(OmegaConf.create(to_dict(cfg))))
