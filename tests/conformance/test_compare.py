"""The gate of .ci/pyiceberg-suite.sh: a failure not listed fails it, and so does a listed test that passes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("conformance_compare", Path(__file__).with_name("compare.py"))
assert _spec is not None and _spec.loader is not None
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)  # a script of .ci/pyiceberg-suite.sh, loaded by path

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.catalog.test_catalog_behaviors" name="test_a[memcat-x]"><failure message="boom"/></testcase>
<testcase classname="tests.catalog.test_catalog_behaviors" name="test_a[memcat_file-x]"/>
<testcase classname="tests.catalog.test_sql.TestSqlCatalogClose" name="test_close"/>
<testcase classname="tests.catalog.test_sql" name="test_skipped"><skipped message="no"/></testcase>
</testsuite></testsuites>
"""


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results.xml"
    path.write_text(JUNIT)
    return path


def _expected(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expected.txt"
    path.write_text(text)
    return path


def test_test_ids_name_file_class_and_parameters(results: Path) -> None:
    assert compare.results(results) == {
        "test_catalog_behaviors.py::test_a[memcat-x]": "failed",
        "test_catalog_behaviors.py::test_a[memcat_file-x]": "passed",
        "test_sql.py::TestSqlCatalogClose::test_close": "passed",
        "test_sql.py::test_skipped": "skipped",
    }


def test_listed_failures_pass_the_gate(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _expected(tmp_path, "# comment\ntest_catalog_behaviors.py::test_a[memcat-*]  # why\n")
    assert compare.main(["compare", str(results), str(listed)]) == 0
    assert "4 tests, 2 passed, 1 failed (1 expected), 1 skipped" in capsys.readouterr().out


def test_brackets_are_not_patterns(results: Path, tmp_path: Path) -> None:
    # fnmatch would read [memcat-*] as a character class and match neither test
    listed = _expected(tmp_path, "test_catalog_behaviors.py::test_a[memcat_file-*]  # why\n")
    assert compare.main(["compare", str(results), str(listed)]) == 1


def test_an_unlisted_failure_or_a_stale_entry_fails_the_gate(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compare.main(["compare", str(results), str(_expected(tmp_path, ""))]) == 1
    assert "UNEXPECTED FAILURE: test_catalog_behaviors.py::test_a[memcat-x]" in capsys.readouterr().out
    stale = _expected(tmp_path, "test_catalog_behaviors.py::test_a[*]  # why\ntest_sql.py::test_gone  # fixed\n")
    assert compare.main(["compare", str(results), str(stale)]) == 1
    assert "DID NOT FAIL" in capsys.readouterr().out
