"""The REST benchmark runs end to end at a tiny size (numbers live in docs/benchmarks.md, never asserted)."""

from __future__ import annotations

from pathlib import Path

from memcatalog.bench import rest


def test_rest_benchmark_measures_every_row() -> None:
    result = rest.run(commits=2, starts=1)
    assert result.commits == 2 and len(result.start_to_first_answer_s) == 1
    assert len(result.stop_s) == len(result.uvicorn_stop_s) == 1 and min(result.stop_s + result.uvicorn_stop_s) > 0
    assert min(result.duckdb_insert_per_s, result.rest_append_per_s, result.direct_append_per_s) > 0
    table = rest.markdown(result)
    assert "server start to first answer" in table and "DuckDB `INSERT`" in table
    assert "memcatalog / uvicorn stop time" in table


def test_memcatalog_bench_writes_the_rest_section_into_the_report(tmp_path: Path) -> None:
    from memcatalog.bench.run import write

    measured = rest.RestBenchResult([0.05], 90.0, 20.0, 60.0, 50)  # the plumbing, not a measurement (test above)
    section = rest.section(measured)
    write([], "memcatalog bench --tiny", tmp_path / "b.md", tmp_path / "b.png", rest_section=section)
    text = (tmp_path / "b.md").read_text()
    assert rest.HEADING in text and "| 50.0 ms |" in text and "| 90.0 commits/s |" in text and "| 0.33 |" in text
    assert "Not measured" in rest.section(None)
