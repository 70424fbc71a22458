from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from pyiceberg.catalog.sql import SqlCatalog

from memcatalog import __version__
from memcatalog.cli import main


def test_help_documents_every_command() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["--help"])
    assert out.exit_code == 0
    for command in ("demo", "shell", "restore", "import", "export", "stress", "bench"):
        assert command in out.output
        sub = runner.invoke(main, [command, "--help"])
        assert sub.exit_code == 0 and "Example" in sub.output


def test_version() -> None:
    out = CliRunner().invoke(main, ["--version"])
    assert out.exit_code == 0 and __version__ in out.output


def test_demo_end_to_end_at_tiny_scale() -> None:
    out = CliRunner().invoke(main, ["demo", "--scale", "0.001"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "TPC-H Q1" in text and "TPC-H Q6" in text
    assert "quota exceeded writing memcat://" in text
    assert "nothing was lost or leaked: table at the same snapshot and pool bytes unchanged = True" in text
    assert "audit: clean" in text
    assert "tpch.lineitem" in text


@pytest.mark.slow
def test_demo_agrees_between_duckdb_and_pyiceberg() -> None:
    from memcatalog.cli.demo import run

    result = run(scale=0.01)
    duck, py = result["q6"]
    assert duck == py > 0
    assert result["time_travel"] == (30, 25)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    table = pa.table({"id": list(range(100)), "city": [f"c{i % 3}" for i in range(100)]})
    parquet, csv = tmp_path / "trips.parquet", tmp_path / "cities.csv"
    pq.write_table(table, parquet)
    pcsv.write_csv(table, csv)
    return parquet, csv


def test_shell_non_interactive(tmp_path: Path) -> None:
    parquet, csv = _files(tmp_path)
    out = CliRunner().invoke(
        main,
        [
            "shell",
            "--load",
            f"{parquet}:db.trips",
            "--load",
            f"{csv}:raw.cities",
            "-c",
            "SELECT count(*) AS n, sum(id) AS s FROM db.trips",
            "-c",
            ".tables",
            "-c",
            ".snapshots db.trips",
            "-c",
            "SELECT count(DISTINCT city) AS cities FROM raw.cities",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "4950" in out.output and "db.trips" in out.output and "raw.cities" in out.output
    assert "append" in out.output
    lines = [line.strip() for line in out.output.splitlines()]
    assert any(line.startswith("3") for line in lines)


def test_shell_error_is_one_line_and_nonzero(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["shell", "-c", "SELECT * FROM no_such_table"])
    assert out.exit_code == 1
    assert out.output.startswith("error: ") and "Traceback" not in out.output
    missing = CliRunner().invoke(main, ["shell", "--load", f"{tmp_path}/nope.parquet:db.x"])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_shell_piped_session(tmp_path: Path) -> None:
    parquet, _ = _files(tmp_path)
    script = f".load {parquet} db.t\nSELECT max(id) AS m\n  FROM db.t;\n.usage\n.bogus\n.quit\n"
    out = CliRunner().invoke(main, ["shell"], input=script)
    assert out.exit_code == 1, out.output  # a piped script stops at its first error
    assert "loaded 100 rows into db.t" in out.output
    assert "99" in out.output and "quota" in out.output
    assert "error: line 5: unknown command .bogus" in out.output


def test_python_dash_m_works() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "memcatalog", "--version"], capture_output=True, text=True, check=True)
    assert __version__ in out.stdout


def _saved_archive(tmp_path: Path) -> Path:
    """tables.tar holding db.trips (100 rows), saved by the shell's .save."""
    parquet, _ = _files(tmp_path)
    archive = tmp_path / "tables.tar"
    out = CliRunner().invoke(main, ["shell", "--load", f"{parquet}:db.trips", "-c", f".save {archive}"])
    assert out.exit_code == 0, out.output
    assert "saved 1 tables" in out.output and archive.exists()
    return archive


def _exported(tmp_path: Path, archive: Path) -> SqlCatalog:
    """The archive exported into a pyiceberg SqlCatalog (sqlite file, file:// warehouse) by `memcatalog export`."""
    wh = tmp_path / "wh"
    uri = f"sqlite:///{tmp_path}/r.db"
    exported = CliRunner().invoke(main, ["export", str(archive), "--uri", uri, "--warehouse", f"file://{wh}"])
    assert exported.exit_code == 0, exported.output
    assert "exported db.trips: 1 snapshots -> file://" in exported.output
    return SqlCatalog("default", uri=uri, warehouse=f"file://{wh}")


def test_shell_save_writes_an_archive(tmp_path: Path) -> None:
    assert _saved_archive(tmp_path).stat().st_size > 0


def test_restore_lists_the_archives_tables_and_a_clean_audit(tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["restore", str(_saved_archive(tmp_path))])
    assert shown.exit_code == 0 and "db.trips" in shown.output and "audit: clean" in shown.output


def test_export_writes_every_row_into_a_sqlcatalog(tmp_path: Path) -> None:
    target = _exported(tmp_path, _saved_archive(tmp_path))
    assert target.load_table("db.trips").scan().to_arrow().num_rows == 100


def test_import_adds_a_table_to_an_archive_the_shell_can_query(tmp_path: Path) -> None:
    archive = _saved_archive(tmp_path)
    metadata = _exported(tmp_path, archive).load_table("db.trips").metadata_location
    runner = CliRunner()
    imported = runner.invoke(main, ["import", metadata, "raw.trips_again", "--save", str(archive)])
    assert imported.exit_code == 0, imported.output
    queried = runner.invoke(
        main, ["shell", "--restore", str(archive), "-c", "SELECT count(*) AS n FROM raw.trips_again"]
    )
    assert queried.exit_code == 0 and "100" in queried.output


def test_export_without_uri_and_warehouse_is_a_usage_error(tmp_path: Path) -> None:
    usage = CliRunner().invoke(main, ["export", str(_saved_archive(tmp_path))])
    assert usage.exit_code != 0 and "--uri and --warehouse" in usage.output


def test_debug_shows_the_traceback() -> None:
    out = CliRunner().invoke(main, ["--debug", "shell", "-c", "SELECT * FROM no_such_table"])
    assert out.exit_code == 1
    assert out.exception is not None and "no_such_table" in str(out.exception)
