"""The dataclass-to-CLI helper: every field reaches --help, values are typed, bad values refused by name."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from toponav.config import ConfigError, param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args


@dataclasses.dataclass
class _Inner:
    rate: float = param(1.0, "inner rate", min=0.0)


@dataclasses.dataclass
class _Args:
    seed: int = param(1, "seed of the run")
    fast: bool = param(True, "take the fast path")
    mode: str = param("a", "which mode", choices=("a", "b"))
    inner: _Inner = dataclasses.field(default_factory=_Inner)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Args)
    return parser


def test_help_lists_every_field_with_its_text() -> None:
    text = _parser().format_help()
    for flag, words in (("--seed", "seed of the run"), ("--fast", "take the fast path"),
                        ("--mode", "which mode"), ("--inner-rate", "inner rate")):
        assert flag in text and words in text


def test_values_are_typed_and_nested() -> None:
    args = dataclass_from_args(_Args, _parser().parse_args(["--seed", "7", "--fast", "no", "--inner-rate", "2.5"]))
    assert args == _Args(seed=7, fast=False, mode="a", inner=_Inner(rate=2.5))
    assert dataclass_from_args(_Args, _parser().parse_args([])) == _Args()


def test_bad_values_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"inner\.rate"):
        dataclass_from_args(_Args, _parser().parse_args(["--inner-rate", "-1"]))
    with pytest.raises(SystemExit):
        _parser().parse_args(["--mode", "c"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["--fast", "maybe"])
