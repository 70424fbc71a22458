"""memcatalog shell without a terminal: statements, dot commands, SQL writes, piped scripts, recovery."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from rich.console import Console

from memcatalog import MemCatalog
from memcatalog.cli import main
from memcatalog.cli.shell import ScriptError, Shell, run
from memcatalog.cli.shell.commands import COMMANDS, UsageError, parse
from memcatalog.cli.shell.statements import is_complete, split
from memcatalog.pool import drop_pool


@pytest.fixture
def catalog() -> Iterator[MemCatalog]:
    cat = MemCatalog("shell_test", quota="256MiB")
    yield cat
    cat.close()
    drop_pool(cat.pool.name)


@pytest.fixture
def shell(catalog: MemCatalog) -> Iterator[tuple[Shell, io.StringIO]]:
    buffer = io.StringIO()
    sh = Shell(catalog, Console(file=buffer, width=200), err=Console(file=buffer, width=200))
    yield sh, buffer
    sh.close()


# ---- where statements end ---------------------------------------------------------------
def test_statements_end_with_a_semicolon_outside_quotes_and_comments() -> None:
    text = "SELECT 1;\n.tables\nSELECT\n  'a;b', \"c;\" -- d;\n, $$e;$$ /* f; */ ;\nSELECT 3"
    pieces, rest = split(text)
    assert [(p.text, p.line) for p in pieces] == [
        ("SELECT 1;", 1),
        (".tables", 2),
        ("SELECT\n  'a;b', \"c;\" -- d;\n, $$e;$$ /* f; */ ;", 3),
    ]
    assert rest == "SELECT 3"


def test_enter_runs_only_a_finished_input() -> None:
    assert is_complete("SELECT 1;") and is_complete(".snapshots db.t") and is_complete("-- only a comment")
    assert not is_complete("SELECT 1") and not is_complete("SELECT ';") and not is_complete("SELECT 1; /* open")
    assert not is_complete("SELECT 1;\nSELECT 2")


# ---- SQL writes are Iceberg commits --------------------------------------------------------
def test_sql_writes_become_iceberg_commits_that_pyiceberg_reads(catalog: MemCatalog) -> None:
    out = io.StringIO()
    run(
        catalog,
        Console(file=out, width=200),
        commands=[
            "CREATE SCHEMA db; CREATE TABLE db.trips (id BIGINT, city VARCHAR);",
            "INSERT INTO db.trips VALUES (1, 'a'), (2, 'b'), (3, 'c');",
            "UPDATE db.trips SET city = 'z' WHERE id = 1; DELETE FROM db.trips WHERE id = 2;",
            "CREATE TABLE db.made AS SELECT 1 AS x;",
            "INSERT INTO db.trips VALUES (4, 'd');",
            "CREATE TABLE plain AS SELECT 5 AS y;",  # an empty catalog got the namespace 'default' for these
            "CREATE TABLE db.gone AS SELECT 1 AS x; DROP TABLE db.gone;",
        ],
    )
    trips = catalog.load_table("db.trips").scan().to_arrow().sort_by("id")
    assert trips.to_pydict() == {"id": [1, 3, 4], "city": ["z", "c", "d"]}
    assert catalog.load_table("db.made").scan().to_arrow().to_pydict() == {"x": [1]}
    assert catalog.load_table("default.plain").scan().to_arrow().to_pydict() == {"y": [5]}
    assert not catalog.table_exists("db.gone")
    assert [s.summary.operation.value for s in catalog.load_table("db.trips").snapshots() if s.summary][:1] == [
        "append"
    ]
    assert "3 rows" in out.getvalue() and "Success" not in out.getvalue()


def test_tables_and_save_see_sql_tables(tmp_path: Path) -> None:
    from memcatalog.archive import restore

    catalog = MemCatalog("shell_save_test")
    out = io.StringIO()
    try:
        run(
            catalog,
            Console(file=out, width=200),
            commands=["CREATE SCHEMA db; CREATE TABLE db.made AS SELECT 1 AS x;", ".tables", f".save {tmp_path}/a.tar"],
        )
    finally:
        catalog.close()
        drop_pool(catalog.pool.name)
    assert "db.made" in out.getvalue()
    again = restore(str(tmp_path / "a.tar"))
    try:
        assert again.load_table("db.made").scan().to_arrow().to_pydict() == {"x": [1]}
    finally:
        again.close()
        drop_pool(again.pool.name)


# ---- piped scripts ------------------------------------------------------------------------
def test_a_piped_script_stops_at_the_first_error_with_exit_1(tmp_path: Path) -> None:
    archive = tmp_path / "out.tar"
    script = (
        "CREATE SCHEMA db;\nCREATE TABLE db.a AS\n  SELECT 1 AS x;\nSELECT * FROM no_such_table;\n"
        f"CREATE TABLE db.b AS SELECT 2 AS x;\n.save {archive}\n"
    )
    result = CliRunner().invoke(main, ["shell"], input=script)
    assert result.exit_code == 1
    assert "error: line 4:" in result.output and "no_such_table" in result.output
    assert not archive.exists()  # nothing after the error ran


def test_a_multi_line_piped_script_runs_every_statement(tmp_path: Path) -> None:
    script = (
        "CREATE SCHEMA db;\nCREATE TABLE db.t AS\nSELECT *\nFROM range(5) r(n);\nSELECT sum(n)\n  AS total FROM db.t;\n"
    )
    result = CliRunner().invoke(main, ["shell"], input=script)
    assert result.exit_code == 0, result.output
    assert re.search(r"total\s*\|?\s*\n.*\n\s*10\b", result.output)


# ---- dot commands -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line,message",
    [
        (".at db.t", "usage: .at NAMESPACE.TABLE SNAPSHOT_ID"),
        (".snapshots", "usage: .snapshots NAMESPACE.TABLE"),
        (".load only_one", "usage: .load PATH NAMESPACE.TABLE"),
        (".tables extra", "usage: .tables"),
        (".save", "usage: .save PATH"),
        (".bogus", "unknown command .bogus"),
        (".help a b", "usage: .help [COMMAND]"),
    ],
)
def test_dot_commands_check_their_arguments(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse(line)


def test_at_and_snapshots_name_what_is_wrong(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell
    sh.run_text("CREATE SCHEMA db; CREATE TABLE db.t AS SELECT 1 AS x;")
    for line, message in [
        (".at db.t 123", "db.t has no snapshot 123 (.snapshots db.t lists them)"),
        (".at db.t abc", "a snapshot id is a number, not 'abc'"),
        (".at db.nope 1", "no table db.nope in the catalog (.tables lists them)"),
        (".snapshots t", "name tables NAMESPACE.TABLE, not 't'"),
    ]:
        with pytest.raises(ScriptError, match=re.escape(message)):
            sh.run_text(line)
    sh.run_text("SELECT 41 + 1 AS after_errors;")  # the connection is fine after all of them
    assert "42" in out.getvalue()


def test_every_command_has_help(shell: tuple[Shell, io.StringIO]) -> None:
    sh, out = shell
    for name, command in COMMANDS.items():
        sh.run_text(f".help {name[1:]}")
        assert command.usage in out.getvalue() and command.summary in out.getvalue()
    with pytest.raises(ScriptError, match=r"no command \.nope"):
        sh.run_text(".help nope")


def test_snapshots_show_readable_commit_times(shell: tuple[Shell, io.StringIO], catalog: MemCatalog) -> None:
    sh, out = shell
    catalog.create_namespace("db")
    catalog.create_table("db.t", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2]}))
    snapshot = catalog.load_table("db.t").snapshots()[0]
    sh.run_text(".snapshots db.t")
    expected = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert expected in out.getvalue() and str(snapshot.timestamp_ms) not in out.getvalue()
    sh.run_text(f".at db.t {snapshot.snapshot_id}")


def test_load_checks_the_name_and_leaves_no_table_on_failure(
    shell: tuple[Shell, io.StringIO], catalog: MemCatalog, tmp_path: Path
) -> None:
    sh, _ = shell
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(ScriptError, match=r"NAMESPACE\.TABLE"):
        sh.run_text(f".load {bad} nonamespace")
    with pytest.raises(ScriptError):
        sh.run_text(f".load {bad} db.t")
    assert not catalog.table_exists("db.t")


# ---- recovery, unsaved data, ending --------------------------------------------------------
def test_the_connection_recovers_from_an_aborted_transaction(shell: tuple[Shell, io.StringIO]) -> None:
    sh, _ = shell
    sh.session.execute("BEGIN", 10)
    with pytest.raises(Exception, match="boom"):
        sh.session.execute("SELECT error('boom')", 10)
    assert sh.session.notices == ["the failed transaction was rolled back"]
    result = sh.session.execute("SELECT 1 AS one", 10)
    assert result is not None and result.rows == [(1,)]


def test_unsaved_changes_are_noticed_until_saved(shell: tuple[Shell, io.StringIO], tmp_path: Path) -> None:
    sh, _ = shell
    assert not sh.session.unsaved()
    sh.run_text("CREATE SCHEMA db; CREATE TABLE db.t AS SELECT 1 AS x;")
    assert sh.session.unsaved()
    sh.run_text(f".save {tmp_path / 's.tar'}")
    assert not sh.session.unsaved()
    sh.run_text("INSERT INTO db.t VALUES (2);")
    assert sh.session.unsaved()


def test_the_shell_stops_its_server_and_duckdb_when_it_ends(catalog: MemCatalog) -> None:
    with pytest.raises(ScriptError):
        run(catalog, Console(file=io.StringIO()), commands=["SELECT * FROM no_such_table"])
    alive = [t.name for t in threading.enumerate() if t.name.startswith("memcatalog-")]
    assert alive == []


# ---- completion and history (the terminal itself: tests/test_shell_terminal.py) -----------------
def _completions(sh: Shell, line: str) -> list[str]:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from memcatalog.cli.shell.completion import ShellCompleter

    return [
        c.text for c in ShellCompleter(sh).get_completions(Document(line), CompleteEvent(completion_requested=True))
    ]


def test_tab_completes_commands_tables_and_keywords(shell: tuple[Shell, io.StringIO]) -> None:
    sh, _ = shell
    sh.run_text("CREATE SCHEMA db; CREATE TABLE db.trips AS SELECT 1 AS x;")
    assert _completions(sh, ".sna") == [".snapshots"]
    assert _completions(sh, ".at db.tr") == ["db.trips"]
    assert _completions(sh, ".help sna") == ["snapshots"]
    assert "SELECT" in _completions(sh, "sele")
    assert "db.trips" in _completions(sh, "SELECT * FROM db.t")
    assert _completions(sh, ".tables ") == []  # .tables takes no argument


def test_history_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from memcatalog.cli.shell.repl import history_path

    monkeypatch.delenv("MEMCATALOG_HISTORY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert history_path() == tmp_path / ".memcatalog_history"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert history_path() == tmp_path / "state" / "memcatalog" / "history"
    monkeypatch.setenv("MEMCATALOG_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
