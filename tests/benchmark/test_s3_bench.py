"""The S3 benchmark runs end to end at a tiny size (numbers live in docs/benchmarks.md, never asserted)."""

from __future__ import annotations

import pytest

from memcatalog.bench import s3


@pytest.mark.slow  # a DuckDB child process and a moto server (~4 s)
def test_s3_benchmark_measures_every_source() -> None:
    result = s3.run(rows=1000, repeat=1)
    assert set(result.medians_s) == {
        s3.SERVED,
        "tmpfs (local files)",
        "moto server (S3 peer)",
        "served table through REST ATTACH",
    }
    assert all(t > 0 for t in result.medians_s.values())
    text = s3.section(result)
    assert s3.HEADING in text and "served / this" in text and "1,000 rows" in text
    assert "Not measured" in s3.section(None)
