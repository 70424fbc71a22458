"""The pytest plugin, driven by pytester in a separate test session."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_give_a_fresh_catalog_and_a_duckdb_connection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pyarrow as pa
        import pytest

        def test_one(memcatalog, memcatalog_duckdb):
            memcatalog.create_namespace("db")
            memcatalog.create_table("db.t", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2]}))
            assert memcatalog_duckdb.sql("SELECT sum(n) FROM db.t").fetchone() == (3,)
            assert memcatalog.pool.quota == 2**30

        def test_two_is_isolated(memcatalog):
            assert memcatalog.list_namespaces() == []

        @pytest.mark.memcatalog_quota("8MiB")
        def test_marker_sets_quota(memcatalog):
            assert memcatalog.pool.quota == 8 * 2**20
        """
    )
    result = pytester.runpytest_subprocess()  # the plugin comes from the pytest11 entry point
    result.assert_outcomes(passed=3)


def test_ini_option_sets_quota(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmemcatalog_quota = 32MiB\n")
    pytester.makepyfile("def test_q(memcatalog):\n    assert memcatalog.pool.quota == 32 * 2**20\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_teardown_audit_fails_a_test_that_corrupts_the_pool(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bad(memcatalog):
            memcatalog.pool._acct.used += 5  # simulate a leak
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["memcatalog audit found problems after the test:", "*used is 5 bytes but files hold 0"]
    )


def test_pool_is_freed_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import memcatalog as mc
        names = []

        def test_use(memcatalog):
            names.append(memcatalog.pool.name)
            memcatalog.pool.put("x", b"123")

        def test_gone():
            assert names and names[0] not in mc.list_pools()
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=2)
