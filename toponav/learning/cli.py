"""One dataclass-to-CLI helper for every training and benchmark command.

A command declares its options once, as a dataclass whose fields use :func:`toponav.config.param` (default,
help text, bounds, choices). ``add_dataclass_arguments`` turns every field into a ``--flag`` whose ``--help``
shows that text and the default; ``dataclass_from_args`` builds and validates the dataclass back, so a bad
value is refused naming the option (the same rules as the node parameters).
"""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from toponav.config import build, describe, flatten, leaf_types, metadata

T = TypeVar("T")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-").replace(".", "-")


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per (flattened) field of ``cls``; help = the field's help text and its default."""
    helps = describe(cls)
    metas = metadata(cls)
    defaults = flatten(cls())
    types = leaf_types(cls)
    for name, default in defaults.items():
        tp = types[name]
        text = helps.get(name, "")
        meta = metas.get(name, {})
        kwargs: dict[str, Any] = {"default": default, "dest": name.replace(".", "__")}
        if tp is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
        elif tp in (int, float, str):
            kwargs["type"] = tp
        if "choices" in meta:
            kwargs["choices"] = list(meta["choices"])
        suffix = f"(default {default})" if default != "" else "(default empty)"
        kwargs["help"] = f"{text} {suffix}".strip()
        parser.add_argument(_flag(name), **kwargs)


def dataclass_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    """Build ``cls`` from parsed arguments (fields not on ``ns`` keep their defaults); validated."""
    values = {name: getattr(ns, name.replace(".", "__")) for name in leaf_types(cls)
              if hasattr(ns, name.replace(".", "__"))}
    return build(cls, values)

