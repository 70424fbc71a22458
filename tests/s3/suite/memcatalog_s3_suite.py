"""pytest plugin for pyiceberg's own integration tests against `memcatalog serve` (see .ci/pyiceberg-s3-suite.sh).

pyiceberg's suite expects a REST catalog at localhost:8181 and MinIO at localhost:9000
(admin/password); many tests also need Spark (the ``spark`` fixture, or tables a Spark
job provisions) or a Hive metastore. This plugin leaves the tests as they are and only:

- lets modules that import pyspark at the top be collected without pyspark installed
  (a placeholder ``pyspark.sql.SparkSession``; a test that asks for the ``spark`` fixture
  never runs here);
- deselects the tests that need Spark or Hive (a ``spark``, ``session_catalog_hive`` or
  ``hive_catalog`` fixture, directly or as a lazy-fixture parameter) and counts them;
- writes ``passed / failed / needs Spark or Hive`` to $MEMCATALOG_S3_SUITE_REPORT (JSON).
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

import pytest

NEEDS = ("spark", "session_catalog_hive", "hive_catalog")


def _placeholder_pyspark() -> None:
    try:
        import pyspark
    except ImportError:
        pyspark = types.ModuleType("pyspark")
        sql = types.ModuleType("pyspark.sql")
        utils = types.ModuleType("pyspark.sql.utils")
        sql.__path__ = []  # a package, so that pyspark.sql.utils imports

        class SparkSession:  # only names for annotations and except clauses: tests that need Spark are deselected
            pass

        class AnalysisException(Exception):
            pass

        sql.SparkSession = SparkSession  # type: ignore[attr-defined]
        sql.DataFrame = SparkSession  # type: ignore[attr-defined]
        utils.AnalysisException = AnalysisException  # type: ignore[attr-defined]
        sql.utils = utils  # type: ignore[attr-defined]
        pyspark.sql = sql  # type: ignore[attr-defined]
        sys.modules.update({"pyspark": pyspark, "pyspark.sql": sql, "pyspark.sql.utils": utils})


_placeholder_pyspark()
_deselected: list[str] = []
_outcomes: dict[str, str] = {}


def _needs(item: pytest.Item) -> str | None:
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for value in callspec.params.values():
            name = getattr(value, "name", None)  # pytest_lazy_fixtures' LazyFixtureWrapper
            if isinstance(name, str):
                names.add(name)
    found = sorted(n for n in NEEDS if n in names)
    return found[0] if found else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        (drop if _needs(item) else keep).append(item)
    _deselected.extend(i.nodeid for i in drop)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        if report.nodeid not in _outcomes or report.outcome != "passed":
            _outcomes[report.nodeid] = report.outcome
        if report.outcome == "failed" and report.longrepr is not None:
            _failures[report.nodeid] = str(getattr(report.longrepr, "reprcrash", report.longrepr)).splitlines()[-1][
                :300
            ]


_failures: dict[str, str] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("MEMCATALOG_S3_SUITE_REPORT")
    if not path:
        return
    counts: dict[str, Any] = {
        "passed": sum(1 for o in _outcomes.values() if o == "passed"),
        "failed": sum(1 for o in _outcomes.values() if o == "failed"),
        "skipped": sum(1 for o in _outcomes.values() if o == "skipped"),
        "needs_spark_or_hive": len(_deselected),
        "failures": _failures,
    }
    with open(path, "w") as f:
        json.dump(counts, f, indent=1, sort_keys=True)
