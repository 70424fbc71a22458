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


@pytest.mark.slow
def test_ini_option_sets_quota(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmemcatalog_quota = 32MiB\n")
    pytester.makepyfile("def test_q(memcatalog):\n    assert memcatalog.pool.quota == 32 * 2**20\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_each_test_gets_a_duckdb_database_of_its_own_and_the_alias_leaves_the_module(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pyarrow as pa
        import memcatalog

        def test_alias(memcatalog_catalog):
            assert isinstance(memcatalog_catalog, memcatalog.MemCatalog)
            assert memcatalog_catalog.pool.name in memcatalog.list_pools()

        def test_leaves_everything_behind(memcatalog, memcatalog_duckdb):
            memcatalog.create_namespace("db")
            memcatalog.create_table("db.t", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1]}))
            assert memcatalog_duckdb.sql("SELECT count(*) FROM db.t").fetchone() == (1,)
            memcatalog_duckdb.execute(
                "CREATE SCHEMA s; CREATE VIEW s.v AS SELECT 1; CREATE TABLE main.kept(a INT);"
                "CREATE MACRO twice(x) AS 2 * x; CREATE SEQUENCE seq; CREATE TYPE mood AS ENUM ('a');"
                "ATTACH ':memory:' AS other; CREATE TABLE other.x(a INT); SET GLOBAL threads = 1;"
                "CREATE SECRET leaked (TYPE iceberg, TOKEN 'x'); SET VARIABLE leaked_variable = 1;"
                "CREATE MACRO main.tabled() AS TABLE SELECT 1"
            )

        def test_sees_none_of_it(memcatalog, memcatalog_duckdb):
            con = memcatalog_duckdb
            assert con.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro'").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_sequences()").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_types() WHERE type_name = 'mood'").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_secrets()").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_variables()").fetchone() == (0,)
            assert con.sql("SELECT count(*) FROM duckdb_schemas() WHERE NOT internal").fetchone() == (0,)
            assert "other" not in {r[0] for r in con.sql("SELECT database_name FROM duckdb_databases()").fetchall()}
            assert con.sql("SELECT current_setting('threads')").fetchone() != (1,)

        def test_iceberg_is_loaded(memcatalog_duckdb):
            loaded = memcatalog_duckdb.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
            assert {("iceberg",), ("avro",)} <= set(loaded)
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=4)


@pytest.mark.slow
def test_load_catalog_names_return_the_tests_catalogs_and_are_restored(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmemcatalog_catalogs = prod staging\n")
    pytester.makepyfile(
        pipeline="""
        from pyiceberg.catalog import load_catalog

        def publish():
            source = load_catalog("staging").load_table("raw.events").scan().to_arrow()
            prod = load_catalog("prod")
            prod.create_namespace_if_not_exists("db")
            prod.create_table("db.events", source.schema).append(source)
        """
    )
    pytester.makepyfile(
        """
        import pyarrow as pa
        import pyiceberg.catalog
        import pytest
        import pipeline

        def test_ini_names(memcatalog, memcatalog_catalogs):
            staging = memcatalog_catalogs["staging"]
            assert memcatalog_catalogs["prod"] is memcatalog and staging is not memcatalog
            staging.create_namespace("raw")
            staging.create_table("raw.events", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2]}))
            pipeline.publish()
            assert memcatalog.load_table("db.events").scan().to_arrow()["n"].to_pylist() == [1, 2]
            assert pyiceberg.catalog.load_catalog("prod") is memcatalog

        @pytest.mark.memcatalog_catalogs("dev")
        def test_marker_overrides_ini(memcatalog):
            assert pipeline.load_catalog("dev") is memcatalog
            with pytest.raises(ValueError, match="PYICEBERG_CATALOG__PROD__URI"):
                pipeline.load_catalog("prod")  # not listed here: pyiceberg's own, which has no such catalog
        """
    )
    pytester.makepyfile(
        test_after="""
        import pyiceberg.catalog
        import pytest
        import pipeline

        @pytest.mark.memcatalog_catalogs()  # none: turns the ini option off
        def test_restored():
            assert pipeline.load_catalog is pyiceberg.catalog.load_catalog
            assert not hasattr(pipeline.load_catalog, "__wrapped__")
        """
    )
    pytester.runpytest_subprocess(
        "test_load_catalog_names_return_the_tests_catalogs_and_are_restored.py",
        "test_after.py",
    ).assert_outcomes(passed=3)


@pytest.mark.slow
def test_overhead_script_reports_each_fixture() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pytest_memcatalog.overhead", "3"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if "median of the rest" in line]
    assert [words[0] for words in lines] == ["nothing", "memcatalog", "memcatalog_duckdb", "memcatalog_server"]
