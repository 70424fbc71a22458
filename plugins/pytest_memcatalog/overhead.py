"""Measure the fixtures' per-test cost: ``python -m pytest_memcatalog.overhead [N]``.

Runs a generated pytest session of N tests per fixture and reports the setup plus
teardown time pytest records for each test (the test bodies do nothing). The first
``memcatalog_duckdb`` test also pays for loading the iceberg extension once for the
session; it is reported apart from the median of the others.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

FIXTURES = ("nothing", "memcatalog", "memcatalog_duckdb", "memcatalog_server")


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when in ("setup", "teardown"):
            self.seconds[report.nodeid] += report.duration


def _test_file(n: int) -> str:
    lines = []
    for fixture in FIXTURES:
        argument = "" if fixture == "nothing" else fixture
        lines += [f"def test_{fixture}_{i:04d}({argument}):\n    pass\n" for i in range(n)]
    return "\n".join(lines)


def measure(n: int) -> dict[str, list[float]]:
    """Setup plus teardown seconds of each test, by fixture, in run order."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "test_overhead.py")
        path.write_text(textwrap.dedent(_test_file(n)))
        timer = _Timer()
        code = pytest.main([str(path), "-q", "-p", "no:cacheprovider", "-o", "addopts="], plugins=[timer])
        if code != 0:
            raise SystemExit(f"the overhead session failed (pytest exit code {code})")
    by_fixture: dict[str, list[float]] = {f: [] for f in FIXTURES}
    for nodeid, seconds in timer.seconds.items():
        fixture = nodeid.rpartition("::test_")[2].rsplit("_", 1)[0]
        by_fixture[fixture].append(seconds)
    return by_fixture


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 20
    if n < 2:
        raise SystemExit("usage: python -m pytest_memcatalog.overhead [N]  (N >= 2 tests per fixture)")
    results = measure(n)
    print(f"\nper-test setup + teardown, {n} tests per fixture (milliseconds):")
    for fixture, seconds in results.items():
        rest = seconds[1:]
        print(
            f"  {fixture:<18} first {seconds[0] * 1000:7.1f}   "
            f"median of the rest {statistics.median(rest) * 1000:6.1f}   max {max(rest) * 1000:6.1f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
