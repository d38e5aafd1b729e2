"""The navigation trainers and benchmarks declare their options once: every flag has help text, defaults as before."""

from __future__ import annotations

import argparse
import importlib

import pytest

COMMANDS = ("train_policy", "train_meta", "bench_barn", "bench_explore")


def _parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=name)
    importlib.import_module(f"toponav.experiments.{name}").add_arguments(parser)
    return parser


@pytest.mark.parametrize("name", COMMANDS)
def test_every_flag_explains_itself(name: str) -> None:
    actions = [a for a in _parser(name)._actions if a.dest != "help"]
    assert len(actions) > 5
    bare = [a.option_strings[0] for a in actions if not a.help or a.help.startswith("(default")]
    assert not bare, f"{name}: flags without help text: {bare}"


def test_flags_and_defaults_users_rely_on() -> None:
    """A sample of the command lines in README/docs: the names and defaults must not move."""
    meta = _parser("train_meta").parse_args(["--time-budget", "4", "--train-worlds", "1", "--families", "empty,maze"])
    assert (meta.time_budget, meta.train_worlds, meta.families) == (4.0, 1, "empty,maze")
    assert meta.eps_decay_decisions == 2500
    barn = _parser("bench_barn").parse_args(["--worlds", "0,6", "--quiet"])
    assert (barn.worlds, barn.quiet, barn.pose, barn.json) == ("0,6", True, "truth", "")
    assert barn.methods == "learned,learned_fallback,dwa"
    with pytest.raises(SystemExit):
        _parser("bench_barn").parse_args(["--pose", "gps"])
    explore = _parser("bench_explore").parse_args([])
    assert (explore.seeds, explore.flat_moves, explore.out) == (5, 60000, "runs/bench_explore")
    policy = _parser("train_policy").parse_args(["--anneal-lr", "false"])
    assert policy.anneal_lr is False and policy.total_timesteps == 300_000
