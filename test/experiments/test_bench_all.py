"""bench all: runs the chosen benches through their own run(), reports missing/failing ones, writes the report."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from toponav.experiments import bench_all
from toponav.experiments.registry import Bench


def test_report_collects_benches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(bench_all.BENCHES, "missing", Bench("toponav.experiments.no_such_bench", "not written",
                                                            "a bench not written"))
    args = argparse.Namespace(only="eval,missing", skip="", quick=True, out=str(tmp_path))
    monkeypatch.setitem(bench_all.BENCHES, "eval", dataclasses.replace(bench_all.BENCHES["eval"],
                                                                       quick={"seconds": 10.0, "repeat": 1}))
    code = bench_all.run(args)
    report = (tmp_path / "report.md").read_text()
    assert code == 0
    assert "| eval | ok |" in report and "| missing | not available" in report
    assert "rosbags read+decode" in report  # the eval bench's own table made it into the report
    assert (tmp_path / "eval" / "bench_eval.json").is_file()
