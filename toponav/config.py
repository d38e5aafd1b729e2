"""One config source: dataclasses hold every default; YAML files and ROS parameters hold overrides.

Each subsystem defines a (possibly nested) dataclass of plain fields (bool, int, float, str, and
lists of those). This module turns such a dataclass into flat parameter names (``rnd.int_coef``)
for ROS ``declare_parameter``, builds a validated instance back from flat or nested values, and
reads the ``ros__parameters`` section of a ROS 2 parameter YAML file.

Field metadata understood by :func:`validate`:
    ``min`` / ``max``   inclusive numeric bounds
    ``choices``         allowed values
    ``help``            description (ROS ParameterDescriptor, CLI help)
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A parameter value is unknown, of the wrong type or out of range; the message names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"parameter '{name}': {message}")
        self.name = name


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dataclass instance -> ``{"a.b": value}`` with the dataclass field order kept."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, name + "."))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def describe(cls: type, prefix: str = "") -> dict[str, str]:
    """Flat parameter name -> help text from field metadata (empty string when none)."""
    return {name: str(meta.get("help", "")) for name, meta in metadata(cls, prefix).items()}


def _leaves(cls: type, prefix: str = "") -> dict[str, tuple[Any, dataclasses.Field]]:
    """Flat parameter name -> (annotated type, field) of every leaf field, nested dataclasses walked."""
    out: dict[str, tuple[Any, dataclasses.Field]] = {}
    hints = _field_types(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_dataclass_type(tp):
            out.update(_leaves(tp, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = (tp, f)
    return out


def metadata(cls: type, prefix: str = "") -> dict[str, Mapping[str, Any]]:
    """Flat parameter name -> the field's metadata (help, min, max, choices), for every leaf field."""
    return {name: f.metadata for name, (_, f) in _leaves(cls, prefix).items()}


def leaf_types(cls: type, prefix: str = "") -> dict[str, Any]:
    """Flat parameter name -> the field's annotated type, for every leaf field."""
    return {name: tp for name, (tp, _) in _leaves(cls, prefix).items()}


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` to the annotated type, or raise ConfigError naming the parameter."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, args[0], value)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(name, f"expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(f"{name}[{i}]", item_tp, v) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(name, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(name, f"expected an integer, got {value!r}")
        try:
            as_float = float(value)
        except ValueError:
            raise ConfigError(name, f"expected an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(name, f"expected an integer, got {value!r}")
        return int(as_float)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(name, f"expected a number, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, f"expected a number, got {value!r}") from None
        if math.isnan(out):
            raise ConfigError(name, "NaN is not allowed")
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(name, f"expected a string, got {value!r}")
        return value
    return value


def build(cls: type[T], values: Mapping[str, Any] | None = None, prefix: str = "") -> T:
    """Build and validate ``cls`` from flat (``"a.b"``) and/or nested (``{"a": {"b": ..}}``) values.

    Unknown names raise ConfigError listing the valid ones, so a typo in a YAML file is never
    silently ignored.
    """
    flat = _flatten_mapping(values or {})
    known = set(describe(cls))
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ConfigError(
            prefix + unknown[0], f"unknown parameter; valid names: {', '.join(sorted(known))}"
        )
    cfg = _build(cls, flat, "")
    validate(cfg, prefix)
    return cfg


def _flatten_mapping(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten_mapping(value, name + "."))
        else:
            out[name] = value
    return out


def _build(cls: type[T], flat: Mapping[str, Any], prefix: str) -> T:
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        name = f"{prefix}{f.name}"
        if _is_dataclass_type(tp):
            kwargs[f.name] = _build(tp, flat, name + ".")
        elif name in flat:
            kwargs[f.name] = _coerce(name, tp, flat[name])
    return cls(**kwargs)


def validate(cfg: Any, prefix: str = "") -> None:
    """Check ``min``/``max``/``choices`` metadata recursively; raise ConfigError on the first breach."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            validate(value, name + ".")
            continue
        meta = f.metadata
        if "choices" in meta and value not in meta["choices"]:
            raise ConfigError(name, f"{value!r} is not one of {list(meta['choices'])}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "min" in meta and value < meta["min"]:
                raise ConfigError(name, f"{value} is below the minimum {meta['min']}")
            if "max" in meta and value > meta["max"]:
                raise ConfigError(name, f"{value} is above the maximum {meta['max']}")


def param(default: Any, help: str = "", **meta: Any) -> Any:
    """Dataclass field with a default plus validation/help metadata."""
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def load_ros_params(path: str | Path, node_name: str) -> dict[str, Any]:
    """Read ``<node_name>: ros__parameters:`` (or the ``/**`` wildcard) from a ROS 2 params YAML.

    Returns the merged, flattened parameters; wildcard entries are overridden by node entries.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError("params_file", f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError("params_file", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("params_file", f"{path} must hold a mapping of node names")
    merged: dict[str, Any] = {}
    # as rcl matches them for a node in the root namespace: wildcards first, then the node's own sections
    # ("/**/name" is how toponav's files key a node so that they apply in any namespace)
    for key in ("/**", "**", f"/**/{node_name}", node_name, f"/{node_name}"):
        section = data.get(key)
        if isinstance(section, dict):
            merged.update(_flatten_mapping(section.get("ros__parameters", {}) or {}))
    return merged
