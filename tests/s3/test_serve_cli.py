"""`memcatalog serve` as a user runs it: another process, both URLs printed, SIGTERM stops it cleanly and saves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from botocore.config import Config
from click.testing import CliRunner
from pyiceberg.catalog.rest import RestCatalog

from memcatalog.cli import main
from memcatalog.cli.serve import snippets

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    command = [sys.executable, "-m", "memcatalog", "serve", "--port", "0", "--s3-port", "0", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    printed = []
    try:
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("serving;"):
                break
        text = "".join(printed)
        urls = dict(re.findall(r"^(REST catalog|S3 endpoint)\s+(\S+)", text, re.MULTILINE))
        assert urls, f"serve printed no URLs:\n{text}{proc.stderr.read() if proc.stderr else ''}"
        yield proc, {"rest": urls["REST catalog"], "s3": urls["S3 endpoint"], "text": text}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


@pytest.mark.slow  # two server processes (~3 s each)
def test_serve_then_sigterm_saves_and_restore_serves_it_again(tmp_path: Path) -> None:
    archive = tmp_path / "lake.tar"
    keys = ["--access-key", "admin", "--secret-key", "password", "--name", "clitest"]
    with serving(*keys, "--save-on-exit", str(archive)) as (proc, urls):
        assert "ATTACH 'clitest' AS lake (TYPE iceberg, ENDPOINT '" + urls["rest"] in urls["text"]
        assert "spark.sql.catalog.mem.s3.endpoint=" + urls["s3"] in urls["text"]
        client = RestCatalog("cli", uri=urls["rest"])
        client.create_namespace("db")
        table = client.create_table("db.t", pa.schema([("n", pa.int64())]))
        table.append(pa.table({"n": [1, 2, 3]}))
        s3 = boto3.client(
            "s3",
            endpoint_url=urls["s3"],
            aws_access_key_id="admin",
            aws_secret_access_key="password",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        listed = s3.list_objects_v2(Bucket="clitest", Prefix="db/t/data/")
        assert len(listed["Contents"]) == 1 and listed["Contents"][0]["Key"].endswith(".parquet")
        out = _stop(proc)
    assert "stopping (SIGTERM)" in out and f"saved to {archive}" in out
    assert archive.exists()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    restored = subprocess.run(  # a plain restore, in a process that serves nothing
        [sys.executable, "-m", "memcatalog", "restore", str(archive)], env=env, capture_output=True, text=True
    )
    assert restored.returncode == 0, restored.stderr
    assert "db.t" in restored.stdout and "audit: clean" in restored.stdout
    with serving(*keys, "--restore", str(archive)) as (proc, urls):
        again = RestCatalog("cli", uri=urls["rest"]).load_table("db.t")
        assert sorted(again.scan().to_arrow()["n"].to_pylist()) == [1, 2, 3]
        _stop(proc)


def test_a_missing_restore_archive_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--s3-port", "0", "--restore", str(tmp_path / "x.tar")])
    assert result.exit_code == 2
    assert "x.tar does not exist" in result.output


def test_a_bad_quota_is_named() -> None:
    result = CliRunner().invoke(main, ["serve", "--quota", "lots"])
    assert result.exit_code == 2 and "--quota" in result.output


def test_snippets_carry_the_endpoint_and_keys() -> None:
    props = {
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.access-key-id": "admin",
        "s3.secret-access-key": "password",
        "s3.region": "us-east-1",
    }
    text = snippets("lake", "http://127.0.0.1:8181", props)
    assert 'RestCatalog("lake", uri="http://127.0.0.1:8181")' in text
    assert "iceberg.rest-catalog.uri=http://127.0.0.1:8181" in text and "s3.aws-secret-key=password" in text
    assert "spark.sql.catalog.mem.s3.access-key-id=admin" in text


pytest_plugins = ["pytester"]


@pytest.mark.slow  # a pytest session in a subprocess (~5 s)
def test_memcatalog_server_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import boto3, pyarrow as pa
        from pyiceberg.catalog.rest import RestCatalog

        def test_outside_clients(memcatalog_server):
            client = RestCatalog("c", uri=memcatalog_server.url)
            client.create_namespace("db")
            client.create_table("db.t", pa.schema([("n", pa.int64())])).append(pa.table({"n": [1, 2]}))
            assert memcatalog_server.catalog.load_table("db.t").scan().to_arrow().num_rows == 2
            props = memcatalog_server.s3.client_properties()
            assert props["s3.endpoint"] == memcatalog_server.s3_url

        def test_session_server_is_shared(memcatalog_session_server, request):
            again = request.getfixturevalue("memcatalog_session_server")
            assert again is memcatalog_session_server and memcatalog_session_server.running
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=2)
