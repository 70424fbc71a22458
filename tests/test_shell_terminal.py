"""memcatalog shell in a real pseudo-terminal (pexpect): what a person at the keyboard gets."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMPT = r"memcat \["
UP, TAB, CTRL_C = "\x1b[A", "\t", "\x03"

pytestmark = pytest.mark.slow  # each session starts Python, DuckDB and the REST server (about 1.5 s)


def start(history: Path) -> pexpect.spawn:
    env = dict(
        os.environ,
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'plugins'}",
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",  # no cursor-position queries that a test terminal would not answer
        MEMCATALOG_HISTORY=str(history),
    )
    child = pexpect.spawn(
        sys.executable, ["-m", "memcatalog", "shell"], env=env, encoding="utf-8", timeout=30, dimensions=(40, 160)
    )
    wait_prompt(child)
    return child


def wait_prompt(child: pexpect.spawn) -> None:
    child.expect(PROMPT)
    time.sleep(0.3)  # the prompt is drawn before the terminal is in raw mode; keys sent earlier are lost


def test_multi_line_history_completion_cancel_and_quit(tmp_path: Path) -> None:
    history = tmp_path / "history"
    child = start(history)
    # A statement continues until ';'.
    child.send("SELECT 40 +\r")
    child.expect(r"\.\.\.>")
    child.send("2 AS answer;\r")
    child.expect("42")
    wait_prompt(child)
    # Up-arrow brings it back; Ctrl-C drops the line without leaving the shell.
    child.send(UP)
    child.expect("answer")
    child.send(CTRL_C)
    wait_prompt(child)
    # Tab completes dot commands, table names and keywords.
    child.send("CREATE SCHEMA db;\r")
    wait_prompt(child)
    child.send("CREATE TABLE db.trips AS SELECT 1 AS x;\r")
    child.expect("1 row")
    wait_prompt(child)
    child.send(".snaps" + TAB)
    child.expect("snapshots")
    child.send(" db.tr" + TAB)
    child.expect("trips")
    child.send("\r")
    child.expect(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC")
    wait_prompt(child)
    # Dot commands check their arguments, and the connection is fine after any error.
    child.send(".snapshots\r")
    child.expect(r"usage: \.snapshots NAMESPACE\.TABLE")
    wait_prompt(child)
    child.send(".at db.trips 123\r")
    child.expect("db.trips has no snapshot 123")
    wait_prompt(child)
    child.send("SELECT error('boom');\r")
    child.expect("boom")
    wait_prompt(child)
    child.send("sele" + TAB)
    child.expect("SELECT")
    child.send(" 6 * 7 AS completed;\r")
    child.expect("42")
    wait_prompt(child)
    # Ctrl-C cancels a running statement; the shell and its catalog stay.
    child.send("SELECT count(*) FROM range(1000000000000) a, range(10) b;\r")
    time.sleep(1.0)
    child.send(CTRL_C)
    child.expect("statement cancelled")
    wait_prompt(child)
    child.send("SELECT x + 41 AS still_here FROM db.trips;\r")
    child.expect("42")
    wait_prompt(child)
    # Ctrl-D asks before the unsaved table is lost; 'n' stays, 'y' leaves.
    child.sendcontrol("d")
    child.expect("quit anyway")
    child.send("n\r")
    wait_prompt(child)
    child.sendcontrol("d")
    child.expect("quit anyway")
    child.send("y\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "SELECT 40 +\n+2 AS answer;" in history.read_text()  # prompt_toolkit's FileHistory format


def test_history_is_kept_between_sessions_and_an_unchanged_catalog_quits_at_once(tmp_path: Path) -> None:
    history = tmp_path / "history"
    first = start(history)
    first.send("SELECT 'from the first session' AS remembered;\r")
    first.expect("from the first session")
    wait_prompt(first)
    first.sendcontrol("d")
    first.expect(pexpect.EOF)
    first.close()
    assert first.exitstatus == 0  # nothing changed: no question

    second = start(history)
    second.send(UP)
    second.expect("remembered")
    second.send("\r")
    second.expect("from the first session")
    wait_prompt(second)
    second.send(".quit\r")
    second.expect(pexpect.EOF)
    second.close()
    assert second.exitstatus == 0


def test_a_script_piped_into_a_real_process_stops_at_its_first_error(tmp_path: Path) -> None:
    import subprocess

    script = (
        "CREATE SCHEMA db;\nCREATE TABLE db.t AS\n  SELECT 1 AS x;\nSELECT * FROM db.nope;\nSELECT 'not reached';\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'plugins'}")
    result = subprocess.run(
        [sys.executable, "-m", "memcatalog", "shell"],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: line 4:") and "nope" in result.stderr
    assert "not reached" not in result.stdout and "1 row" in result.stdout
    assert "terminate called" not in result.stderr
