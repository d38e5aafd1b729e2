"""bench all: runs the chosen benches through their own run(), reports missing/failing ones, writes the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from toponav.experiments import bench_all


def test_report_collects_benches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(bench_all.BENCHES, "missing", ("toponav.experiments.no_such_bench", "a bench not written"))
    args = argparse.Namespace(only="eval,missing", skip="", quick=True, out=str(tmp_path))
    monkeypatch.setitem(bench_all.QUICK, "eval", {"seconds": 10.0, "repeat": 1})
    code = bench_all.run(args)
    report = (tmp_path / "report.md").read_text()
    assert code == 0
    assert "| eval | ok |" in report and "| missing | not available" in report
    assert "rosbags read+decode" in report  # the eval bench's own table made it into the report
    assert (tmp_path / "eval" / "bench_eval.json").is_file()
