"""Errors and the CLI at their edges: every error class in one place, every CLI error naming what was wrong."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from pyiceberg.catalog.sql import SqlCatalog

import memcatalog
import memcatalog.duckdb
import memcatalog.errors
from memcatalog import MemCatalog
from memcatalog.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def test_every_error_class_lives_in_errors_is_exported_and_documented() -> None:
    assert issubclass(memcatalog.errors.EmptyNamespaceError, ValueError)  # built on first use
    classes = [
        c
        for _, c in inspect.getmembers(memcatalog.errors, inspect.isclass)
        if issubclass(c, memcatalog.MemCatalogError) and c.__module__ == "memcatalog.errors"
    ]
    assert {"SaveFormatError", "WriteAbortedError"} <= {c.__name__ for c in classes}
    text = DOCS.read_text()
    for c in classes:
        assert getattr(memcatalog, c.__name__) is c and c.__name__ in memcatalog.__all__
        assert f"`{c.__name__}`" in text, f"{c.__name__} is not listed in docs/errors.md"
    for module in (
        "memcatalog.catalog",
        "memcatalog.archive",
        "memcatalog.tablecopy",
        "memcatalog.tracking",
        "memcatalog.fileio",
    ):
        mod = __import__(module, fromlist=["_"])
        stray = [
            n
            for n, c in inspect.getmembers(mod, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == module
        ]
        assert stray == [], f"{module} defines error classes outside memcatalog.errors: {stray}"


def test_old_import_paths_keep_working() -> None:
    import warnings

    from memcatalog.tracking import WriteAbortedError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # tests/test_transfer.py checks the warning
        from memcatalog.transfer import SaveFormatError

    assert SaveFormatError is memcatalog.SaveFormatError and WriteAbortedError is memcatalog.WriteAbortedError


@pytest.mark.parametrize("scale", ["0", "-1"])
def test_demo_with_a_scale_that_is_not_positive_names_the_option(scale: str) -> None:
    out = CliRunner().invoke(main, ["demo", "--scale", scale])
    assert out.exit_code == 2
    assert "Invalid value for '--scale'" in out.output


def test_demo_run_refuses_a_zero_scale() -> None:
    from memcatalog.cli.demo import run

    with pytest.raises(ValueError, match="scale factor 0"):
        run(scale=0)
    out = CliRunner().invoke(main, ["demo", "--scale", "nan"])
    assert out.exit_code == 1 and "error: invalid TPC-H scale factor nan" in out.output


def test_a_bad_quota_names_the_option() -> None:
    out = CliRunner().invoke(main, ["demo", "--quota", "12 parsecs"])
    assert out.exit_code == 2
    assert "Invalid value for '--quota'" in out.output and "invalid size '12 parsecs'" in out.output


@pytest.fixture
def source_table(tmp_path: Path) -> Iterator[tuple[SqlCatalog, Path]]:
    """A table written by pyiceberg's SqlCatalog to a file:// warehouse, with three metadata versions."""
    warehouse = tmp_path / "lake"
    warehouse.mkdir()
    cat = SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/lake.db", warehouse=f"file://{warehouse}")
    cat.create_namespace("db")
    table = cat.create_table("db.orders", pa.schema([("n", pa.int64())]))
    table.append(pa.table({"n": [1, 2]}))
    table.append(pa.table({"n": [3]}))
    yield cat, Path(table.metadata.location.removeprefix("file://"))
    cat.close()


def test_import_of_a_table_directory_takes_its_newest_metadata_file(
    source_table: tuple[SqlCatalog, Path], tmp_path: Path
) -> None:
    _, table_dir = source_table
    archive = tmp_path / "tables.tar"
    for source in (str(table_dir), f"file://{table_dir}", str(table_dir / "metadata")):
        archive.unlink(missing_ok=True)
        out = CliRunner().invoke(main, ["import", source, "db.orders", "--save", str(archive)])
        assert out.exit_code == 0, out.output
        assert "imported db.orders (2 snapshots)" in out.output
    restored = memcatalog.restore(archive)
    try:
        assert restored.load_table("db.orders").scan().to_arrow().num_rows == 3
    finally:
        memcatalog.drop_pool(restored.pool.name)


def test_import_of_a_directory_without_metadata_says_how_to_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-table"
    empty.mkdir()
    out = CliRunner().invoke(main, ["import", str(empty), "db.t", "--save", str(tmp_path / "x.tar")])
    assert out.exit_code == 2
    assert "without Iceberg metadata files" in out.output and ".metadata.json" in out.output
    assert not (tmp_path / "x.tar").exists()


def test_a_full_pool_under_the_cli_names_the_quota_option(
    source_table: tuple[SqlCatalog, Path], tmp_path: Path
) -> None:
    _, table_dir = source_table
    archive = tmp_path / "small.tar"
    out = CliRunner().invoke(main, ["import", str(table_dir), "db.orders", "--save", str(archive), "--quota", "1KiB"])
    assert out.exit_code == 1
    assert "quota exceeded" in out.output and "--quota" in out.output
    assert "pool.set_quota" not in out.output


@pytest.mark.parametrize("name", ["temp", "system", "main", "memory", "TEMP"])
def test_duckdb_connect_works_for_a_catalog_with_a_reserved_name(name: str) -> None:
    pool = f"p{uuid.uuid4().hex[:8]}"
    cat = MemCatalog(name, pool=pool)
    other = MemCatalog(f"other{uuid.uuid4().hex[:6]}", pool=pool)
    try:
        cat.create_namespace("db")
        cat.create_table("db.t", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2, 3]}))
        with memcatalog.duckdb.connect(other, cat) as con:
            database = con.databases[name]
            assert database.lower() not in {"temp", "system", "main", "memory"}
            assert con.sql(f'SELECT sum(n) FROM "{database}".db.t').fetchone() == (6,)
        with memcatalog.duckdb.connect(cat) as con:
            assert con.sql("SELECT sum(n) FROM db.t").fetchone() == (6,)
    finally:
        memcatalog.drop_pool(pool)
