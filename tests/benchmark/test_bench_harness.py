"""The benchmark harness works end to end at a tiny size (no timing is asserted: numbers live in docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memcatalog.bench import report
from memcatalog.bench.run import run_all, write


@pytest.mark.slow
def test_full_benchmark_defaults(tmp_path: Path) -> None:
    """The real run: `pytest -m slow tests/benchmark` (a few minutes), same as `memcatalog bench`."""
    results = run_all(2_000_000, 3, 200, 4, 25, 2**30, log=False)
    write(results, "pytest -m slow tests/benchmark", tmp_path / "b.md", tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 0


@pytest.mark.slow  # several seconds: every peer, every workload (CI runs -m slow)
def test_tiny_run_measures_every_peer_and_writes_the_report(tmp_path: Path) -> None:
    results = run_all(20_000, 1, 5, 2, 2, 8 * 2**20, log=False)
    names = [r.workload for r in results]
    assert "bulk append" in names and "memory" in names and any(n.startswith("load_table") for n in names)
    for r in results:
        if r.workload != "memory":
            assert {"memcatalog", "sql-tmpfs", "sql-memoryfs"} <= set(r.values), r.workload
    concurrent = next(r for r in results if "threads appending" in r.workload)
    assert all(v == 0 for k, v in concurrent.extra.items() if k.endswith("rows lost"))
    checks = report.checks(results)
    assert len(checks) == 9
    write(results, "memcatalog bench --tiny", tmp_path / "b.md", tmp_path / "b.png")
    text = (tmp_path / "b.md").read_text()
    assert "memcatalog bench --tiny" in text and "| bulk append |" in text and "## Targets" in text
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # several seconds: every peer, every curve (CI runs -m slow)
def test_tiny_curves_measure_every_peer_and_plot(tmp_path: Path) -> None:
    from memcatalog.bench.curves import MERGED_MANIFESTS, OVERWRITE_HISTORY, CurveSizes, run_curves

    sizes = CurveSizes.tiny()
    curves = run_curves(sizes)
    titles = [c.title for c in curves]
    assert len(curves) == 8, titles
    for curve in curves:
        assert {"memcatalog", "sql-tmpfs", "sql-memoryfs"} <= set(curve.series), curve.title
        for values in curve.series.values():
            assert len(values) == len(curve.xs) and all(v > 0 for v in values), curve.title
    append = curves[0]
    assert append.xs == sizes.snapshots and {OVERWRITE_HISTORY, MERGED_MANIFESTS} <= set(append.series)
    # the curve reached its last x: the table had that many snapshots when it was measured
    assert append.extra["memcatalog manifests in the last snapshot"] >= sizes.snapshots[-1]
    concurrent = curves[-1]
    assert concurrent.xs == sizes.threads
    assert all(v == 0 for k, v in concurrent.extra.items() if k.endswith("rows lost") or k.endswith("errors"))
    findings = report.curve_findings(curves)
    assert any("memcatalog / sql-tmpfs at 6 snapshots" in line for line in findings)
    write([], "memcatalog bench --curves", tmp_path / "b.md", tmp_path / "b.png", curves)
    text = (tmp_path / "b.md").read_text()
    assert "## Curves" in text and "![curves](b-curves.png)" in text and "| 6 |" in text
    assert (tmp_path / "b-curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_curves_command_measures_the_named_curve_and_series(capsys: pytest.CaptureFixture[str]) -> None:
    from memcatalog.bench.curves import main

    assert main(["--snapshots", "append", "--up-to", "4", "--samples", "1", "--only", "memcatalog"]) == 0
    out = capsys.readouterr().out
    assert "Produced by `python -m memcatalog.bench.curves --snapshots append --up-to 4" in out
    assert "| snapshots in the table | memcatalog |" in out and "| 4 |" in out and "sql-tmpfs" not in out
    assert "memcatalog at 4 snapshots =" in out and "memcatalog manifests in the last snapshot = 4" in out


def test_the_curves_command_alternates_first_and_nth_commit(capsys: pytest.CaptureFixture[str]) -> None:
    from memcatalog.bench.curves import main

    assert main(["--alternate", "4", "--samples", "2", "--snapshots", "writer"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("writer: first commit of a new table ") and "at 4 snapshots" in out
    assert "(medians of 2, taken in turns)" in out
