"""Short versions of the threaded stress program (memcatalog stress)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from memcatalog.cli import main
from memcatalog.cli.stress import run


@pytest.mark.slow
def test_eight_threads_with_duckdb_readers_lose_nothing() -> None:
    report = run(seed=1, threads=8, operations=15, quota="256MiB")
    assert report.failures == [] and report.audit == []
    assert report.counts["append"] > 0 and report.counts["scan"] + report.counts["duckdb"] > 0
    assert report.peak <= report.quota
    assert report.ok


@pytest.mark.slow
def test_small_quota_rejects_writes_but_loses_nothing() -> None:
    report = run(seed=3, threads=6, operations=25, quota="1MiB", duckdb=False)
    assert report.counts["rejected (QuotaExceededError)"] > 0, "the quota is sized to be hit"
    assert report.failures == [] and report.audit == []
    assert report.peak <= report.quota


def test_cli_reports_and_sets_exit_status() -> None:
    out = CliRunner().invoke(main, ["stress", "--threads", "2", "--operations", "5", "--no-duckdb", "--seed", "9"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("stress OK: seed 9, 2 threads x 5 operations")
    assert "audit: clean" in out.output
