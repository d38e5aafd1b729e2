"""The training and bench commands on the dataclass-to-CLI helper: every option has help, the bench table is one.

Cheap: only parsers are built (no env, no training); the commands' runs are tested next to their code.
"""

from __future__ import annotations

import argparse
import importlib

import pytest

from toponav.cli import COMMANDS
from toponav.experiments.registry import BENCHES

COMMAND_MODULES = ("train_world_model", "bench_manip", "bench_sim", "bench_eval", "bench_mapper", "bench_stack")


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_every_option_has_help_text(name: str) -> None:
    module = importlib.import_module(f"toponav.experiments.{name}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    bare = [a.dest for a in parser._actions if not (a.help or "").strip()]
    assert not bare, f"{name}: options without help text: {bare}"


def test_train_world_model_refuses_a_bad_value_by_name(capsys) -> None:
    from toponav.cli import main

    assert main(["train", "world-model", "--steps", "-1"]) == 2  # refused before any env is built
    assert "toponav train world-model: parameter 'steps'" in capsys.readouterr().err


def test_cli_and_bench_all_read_one_bench_table() -> None:
    from toponav.experiments import bench_all

    bench_commands = {words[1]: module for words, (module, _) in COMMANDS.items() if words[0] == "bench"}
    assert bench_commands.pop("all") == "toponav.experiments.bench_all"
    assert bench_commands == {name: b.module for name, b in BENCHES.items()}
    assert bench_all.BENCHES is BENCHES
