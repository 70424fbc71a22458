"""Behaviour of memcat:// through fsspec, with fsspec's MemoryFileSystem run through the same tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

import memcatalog
from memcatalog import PoolFileSystem

# --- behaviour shared with fsspec's MemoryFileSystem --------------------------


@pytest.fixture(params=["memcat", "memory"])
def any_fs(request: pytest.FixtureRequest, pool_name: str) -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    if request.param == "memcat":
        memcatalog.get_pool(pool_name)
        yield fsspec.filesystem("memcat"), pool_name
    else:
        fs = MemoryFileSystem(global_store=False, skip_instance_cache=True)
        yield fs, f"/{pool_name}"


def _known_fault(request: pytest.FixtureRequest, what: str) -> None:
    if "memory" in request.node.callspec.id:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"MemoryFileSystem: {what}"))


def test_exception_inside_write_leaves_no_file(
    any_fs: tuple[fsspec.AbstractFileSystem, str], request: pytest.FixtureRequest
) -> None:
    _known_fault(request, "a file written inside a failed with-block is kept")
    fs, root = any_fs
    with pytest.raises(RuntimeError), fs.open(f"{root}/half.bin", "wb") as f:
        f.write(b"partial")
        raise RuntimeError("boom")
    assert not fs.exists(f"{root}/half.bin")


def test_file_is_invisible_until_closed(
    any_fs: tuple[fsspec.AbstractFileSystem, str], request: pytest.FixtureRequest
) -> None:
    _known_fault(request, "wb publishes the file at open")
    fs, root = any_fs
    f = fs.open(f"{root}/pending.bin", "wb")
    f.write(b"abc")
    assert not fs.exists(f"{root}/pending.bin")
    f.close()
    assert fs.cat_file(f"{root}/pending.bin") == b"abc"


def test_every_open_has_its_own_position(any_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = any_fs
    data = bytes(range(256)) * 4096
    fs.pipe_file(f"{root}/shared.bin", data)
    results: dict[int, bytes] = {}

    def read(i: int) -> None:
        with fs.open(f"{root}/shared.bin", "rb") as f:
            f.seek(i * 1000)
            chunks = []
            for _ in range(200):
                chunks.append(f.read(997))
            results[i] = b"".join(chunks)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        assert got == data[i * 1000 : i * 1000 + 997 * 200]


def test_overwrite_while_reading_keeps_old_version(any_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = any_fs
    fs.pipe_file(f"{root}/v.bin", b"old-version")
    reader = fs.open(f"{root}/v.bin", "rb")
    assert reader.read(4) == b"old-"
    with fs.open(f"{root}/v.bin", "wb") as f:
        f.write(b"NEW")
    assert reader.read() == b"version"
    assert fs.cat_file(f"{root}/v.bin") == b"NEW"


def test_transaction_commits_all_or_nothing(any_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = any_fs
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open(f"{root}/t1", "wb") as f:
            f.write(b"1")
        raise RuntimeError("abort the transaction")
    assert not fs.exists(f"{root}/t1")
    with fs.transaction:
        for i in range(3):
            with fs.open(f"{root}/ok{i}", "wb") as f:
                f.write(b"x")
        assert not fs.exists(f"{root}/ok0")
    assert all(fs.exists(f"{root}/ok{i}") for i in range(3))


# --- memcat:// specifics ------------------------------------------------------------


def test_protocol_is_registered_without_importing_memcatalog() -> None:
    import subprocess
    import sys

    code = (
        "import fsspec, sys\n"
        "with fsspec.open('memcat://ep/x.txt', 'wb') as f: f.write(b'ok')\n"
        "assert 'memcatalog.catalog' not in sys.modules\n"
        "print(fsspec.open('memcat://ep/x.txt').open().read().decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_paths_cannot_leave_their_pool(pool_name: str) -> None:
    fs = fsspec.filesystem("memcat")
    fs.pipe_file(f"memcat://{pool_name}/a/../b", b"1")
    assert fs.cat_file(f"{pool_name}/b") == b"1"
    for bad in [f"memcat://{pool_name}/../other/x", f"memcat://{pool_name}/a/../../x", "memcat://../x"]:
        with pytest.raises(PermissionError):
            fs.pipe_file(bad, b"1")
    with pytest.raises(ValueError, match="NUL"):
        fs.pipe_file(f"memcat://{pool_name}/a\x00b", b"1")
    # an encoded '..' is a plain name, not a way out
    fs.pipe_file(f"memcat://{pool_name}/%2e%2e/x", b"2")
    assert fs.cat_file(f"{pool_name}/%2e%2e/x") == b"2"


def test_builtin_errors(pool_name: str) -> None:
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/d/f", b"1")
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{pool_name}/missing")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("no-such-pool-xyz/f")
    with pytest.raises(IsADirectoryError):
        fs.open(f"{pool_name}/d", "rb")
    with pytest.raises(NotADirectoryError):
        fs.pipe_file(f"{pool_name}/d/f/g", b"1")
    with pytest.raises(FileExistsError):
        fs.open(f"{pool_name}/d/f", "xb")
    with pytest.raises(ValueError, match="mode"):
        fs.open(f"{pool_name}/d/f", "r+b")


def test_append_created_and_modified(pool_name: str) -> None:
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/log", b"a")
    with fs.open(f"{pool_name}/log", "ab") as f:
        f.write(b"b")
    assert fs.cat_file(f"{pool_name}/log") == b"ab"
    assert isinstance(fs.created(f"{pool_name}/log"), datetime)
    assert isinstance(fs.modified(f"{pool_name}/log"), datetime)
    assert fs.info(f"{pool_name}/log")["size"] == 2


def test_copy_shares_bytes_and_move_keeps_accounting(pool_name: str) -> None:
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/a", b"12345")
    fs.cp(f"{pool_name}/a", f"{pool_name}/b")
    fs.mv(f"{pool_name}/b", f"{pool_name}/sub/c")
    assert fs.read_buffer(f"{pool_name}/sub/c").address == fs.read_buffer(f"{pool_name}/a").address
    pool = memcatalog.get_pool(pool_name)
    assert pool.stats().used == 10 and pool.check() == []
    fs.rm(f"{pool_name}/sub", recursive=True)
    assert pool.stats().used == 5 and not fs.exists(f"{pool_name}/sub")


def test_quota_error_through_fsspec_leaves_nothing(pool_name: str) -> None:
    pool = memcatalog.get_pool(pool_name, quota=10_000)
    with pytest.raises(memcatalog.QuotaExceededError), fsspec.open(f"memcat://{pool_name}/big", "wb") as f:
        for _ in range(100):
            f.write(b"x" * 1000)
    assert pool.stats().used == 0 and pool.stats().reserved == 0
    assert not fsspec.filesystem("memcat").exists(f"{pool_name}/big")


# --- real clients --------------------------------------------------------------------


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {"id": list(range(1000)), "name": [f"n{i}" for i in range(1000)], "x": [i / 3 for i in range(1000)]}
    )


def test_pandas_round_trip_by_url(pool_name: str, table: pa.Table) -> None:
    df = table.to_pandas()
    df.to_parquet(f"memcat://{pool_name}/pd/data.parquet")
    back = pd.read_parquet(f"memcat://{pool_name}/pd/data.parquet")
    pd.testing.assert_frame_equal(back, df)


def test_pyarrow_round_trip(pool_name: str, table: pa.Table) -> None:
    fs = PoolFileSystem()
    pq.write_table(table, f"{pool_name}/pa/data.parquet", filesystem=fs)
    assert pq.read_table(f"{pool_name}/pa/data.parquet", filesystem=fs).equals(table)
    assert ds.dataset(f"{pool_name}/pa", filesystem=fs, format="parquet").to_table().equals(table)
    zero_copy = pq.read_table(pa.BufferReader(fs.read_buffer(f"{pool_name}/pa/data.parquet")))
    assert zero_copy.equals(table)


def test_duckdb_reads_and_writes_through_register_filesystem(pool_name: str, table: pa.Table) -> None:
    fs = PoolFileSystem()
    pq.write_table(table, f"{pool_name}/duck/in.parquet", filesystem=fs)
    con = duckdb.connect()
    con.register_filesystem(fs)
    total = con.sql(f"SELECT count(*), sum(id) FROM read_parquet('memcat://{pool_name}/duck/in.parquet')").fetchone()
    assert total == (1000, sum(range(1000)))
    con.sql(
        f"COPY (SELECT id * 2 AS id2 FROM read_parquet('memcat://{pool_name}/duck/in.parquet')) "
        f"TO 'memcat://{pool_name}/duck/out.parquet' (FORMAT parquet)"
    )
    out = pq.read_table(f"{pool_name}/duck/out.parquet", filesystem=fs)
    assert sorted(out.column("id2").to_pylist()) == [i * 2 for i in range(1000)]
    con.close()


def test_pool_is_process_wide_not_per_instance(pool_name: str) -> None:
    seen: list[bytes] = []
    fsspec.filesystem("memcat").pipe_file(f"{pool_name}/x", b"from-main")

    def other_thread() -> None:
        seen.append(fsspec.filesystem("memcat").cat_file(f"{pool_name}/x"))

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert seen == [b"from-main"]


def test_ls_root_lists_pools(pool_name: str) -> None:
    memcatalog.get_pool(pool_name)
    assert pool_name in PoolFileSystem().ls("", detail=False)
    assert str(uuid.uuid4()) not in PoolFileSystem().ls("", detail=False)


def test_fsspec_open_with_block_that_fails_leaves_no_file(pool_name: str) -> None:
    """fsspec's OpenFile closes files on the way out of a failed with-block; that must not publish."""
    url = f"memcat://{pool_name}/openfile.bin"
    with pytest.raises(RuntimeError), fsspec.open(url, "wb") as f:
        f.write(b"partial")
        raise RuntimeError("boom")
    assert not fsspec.filesystem("memcat").exists(url)
    assert memcatalog.get_pool(pool_name).stats().reserved == 0
    try:
        raise KeyError("handled before the file is opened")
    except KeyError:
        with fsspec.open(url, "wb") as f:  # written inside an except block: still published
            f.write(b"ok")
    assert fsspec.filesystem("memcat").cat_file(url) == b"ok"
    with fsspec.open(url, "wb") as f:
        try:
            raise ValueError("caught inside the block")
        except ValueError:
            pass
        f.write(b"fine")
    assert fsspec.filesystem("memcat").cat_file(url) == b"fine"


# --- edges, with fsspec's LocalFileSystem on a tmp_path as the oracle -------------------


@pytest.fixture(params=["memcat", "local"])
def oracle_fs(
    request: pytest.FixtureRequest, pool_name: str, tmp_path: Path
) -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    if request.param == "memcat":
        memcatalog.get_pool(pool_name)
        yield PoolFileSystem(), pool_name
    else:
        yield LocalFileSystem(auto_mkdir=True), str(tmp_path)


def test_mv_a_file_onto_itself_changes_nothing(oracle_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = oracle_fs
    fs.pipe_file(f"{root}/f", b"12345")
    fs.mv(f"{root}/f", f"{root}/f")
    assert fs.cat_file(f"{root}/f") == b"12345"
    with pytest.raises(FileNotFoundError):
        fs.mv(f"{root}/missing", f"{root}/missing")


@pytest.mark.parametrize("target", ["d/sub", "d/b"])
def test_mv_a_directory_into_itself_is_refused_and_changes_nothing(
    oracle_fs: tuple[fsspec.AbstractFileSystem, str], target: str
) -> None:
    fs, root = oracle_fs
    fs.pipe_file(f"{root}/d/a", b"1")
    fs.pipe_file(f"{root}/d/b/c", b"22")
    before = sorted(p[len(root) :] for p in fs.find(root))
    with pytest.raises(OSError, match="into itself"):
        fs.mv(f"{root}/d", f"{root}/{target}", recursive=True)
    assert sorted(p[len(root) :] for p in fs.find(root)) == before
    fs.mv(f"{root}/d", f"{root}/d", recursive=True)  # onto itself: nothing happens
    assert sorted(p[len(root) :] for p in fs.find(root)) == before


def test_pipe_joins_a_transaction(oracle_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = oracle_fs
    with pytest.raises(RuntimeError), fs.transaction:
        fs.pipe_file(f"{root}/piped", b"p")
        fs.pipe(f"{root}/piped2", b"p2")
        assert not fs.exists(f"{root}/piped") and not fs.exists(f"{root}/piped2")
        raise RuntimeError("abort")
    assert not fs.exists(f"{root}/piped") and not fs.exists(f"{root}/piped2")
    with fs.transaction:
        fs.pipe_file(f"{root}/piped", b"p")
        assert not fs.exists(f"{root}/piped")
    assert fs.cat_file(f"{root}/piped") == b"p"


def test_copy_and_put_join_a_transaction(pool_name: str, tmp_path: Path) -> None:
    """Stricter than LocalFileSystem, whose cp_file and put_file write at once inside a transaction."""
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/src", b"source")
    local = tmp_path / "local.txt"
    local.write_bytes(b"local")
    with pytest.raises(RuntimeError), fs.transaction:
        fs.cp_file(f"{pool_name}/src", f"{pool_name}/copied")
        fs.put_file(str(local), f"{pool_name}/put")
        assert not fs.exists(f"{pool_name}/copied") and not fs.exists(f"{pool_name}/put")
        raise RuntimeError("abort")
    assert fs.find(pool_name) == [f"{pool_name}/src"]
    with fs.transaction:
        fs.cp_file(f"{pool_name}/src", f"{pool_name}/copied")
        fs.put_file(str(local), f"{pool_name}/put")
    assert fs.cat_file(f"{pool_name}/copied") == b"source" and fs.cat_file(f"{pool_name}/put") == b"local"
    assert memcatalog.get_pool(pool_name).check() == []


def test_seek_with_a_bad_whence_is_a_value_error(oracle_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = oracle_fs
    fs.pipe_file(f"{root}/f", b"12345")
    with fs.open(f"{root}/f", "rb") as f:
        with pytest.raises(ValueError, match="whence"):
            f.seek(0, 7)
        assert f.read() == b"12345"


def test_explicit_close_inside_except_publishes(oracle_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = oracle_fs
    f = fs.open(f"{root}/direct", "wb")
    try:
        raise KeyError("handled")
    except KeyError:
        f.write(b"written while handling")
        f.close()
    assert fs.cat_file(f"{root}/direct") == b"written while handling"
    opened = fsspec.open(fs.unstrip_protocol(f"{root}/via-openfile"), "wb")
    g = opened.open()
    try:
        raise KeyError("handled")
    except KeyError:
        g.write(b"too")
        g.close()
    assert fs.cat_file(f"{root}/via-openfile") == b"too"


def test_transaction_checks_every_publish_before_publishing_any(pool_name: str) -> None:
    fs = PoolFileSystem()
    pool = memcatalog.get_pool(pool_name)
    fs.pipe_file(f"{pool_name}/kept", b"old")
    with pytest.raises(NotADirectoryError), fs.transaction:
        fs.pipe_file(f"{pool_name}/t1", b"1")
        fs.pipe_file(f"{pool_name}/t1/child", b"2")  # t1 cannot be a file and a directory
        fs.pipe_file(f"{pool_name}/t3", b"3")
        fs.pipe_file(f"{pool_name}/kept", b"new")
    assert fs.find(pool_name) == [f"{pool_name}/kept"] and fs.cat_file(f"{pool_name}/kept") == b"old"
    assert pool.stats().reserved == 0 and pool.check() == []
    fs.mkdir(f"{pool_name}/dir")
    with pytest.raises(IsADirectoryError), fs.transaction:
        fs.pipe_file(f"{pool_name}/a", b"1")
        with fs.open(f"{pool_name}/dir", "wb") as f:
            f.write(b"a directory is in the way")
    with pytest.raises(FileExistsError), fs.transaction:
        fs.pipe_file(f"{pool_name}/b", b"1")
        fs.pipe_file(f"{pool_name}/kept", b"x", mode="create")
    assert fs.find(pool_name) == [f"{pool_name}/kept"]
    assert pool.stats().reserved == 0 and pool.check() == []
    fs.pipe_file(f"{pool_name}/after", b"now")  # the failed transaction ended: writes are immediate again
    assert fs.cat_file(f"{pool_name}/after") == b"now"
    with fs.transaction:  # and a new transaction works
        fs.pipe_file(f"{pool_name}/c", b"c")
    assert fs.cat_file(f"{pool_name}/c") == b"c"


def test_mv_onto_itself_keeps_the_accounting(pool_name: str) -> None:
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/d/f", b"12345")
    fs.mv(f"{pool_name}/d/f", f"{pool_name}/d/f")
    fs.mv(f"{pool_name}/d/f", f"{pool_name}/d")  # into the directory it is already in
    assert fs.cat_file(f"{pool_name}/d/f") == b"12345"
    pool = memcatalog.get_pool(pool_name)
    assert pool.stats().used == 5 and pool.check() == []


def test_mv_inside_a_transaction_moves_at_once_and_loses_nothing(
    oracle_fs: tuple[fsspec.AbstractFileSystem, str],
) -> None:
    fs, root = oracle_fs
    fs.pipe_file(f"{root}/d/a", b"1")
    fs.pipe_file(f"{root}/d/b/c", b"22")
    with pytest.raises(RuntimeError), fs.transaction:
        fs.mv(f"{root}/d", f"{root}/e", recursive=True)
        raise RuntimeError("abort")
    assert fs.cat_file(f"{root}/e/a") == b"1" and fs.cat_file(f"{root}/e/b/c") == b"22"
    assert not fs.exists(f"{root}/d/a")


# --- text mode: the same rules as binary writes ------------------------------------------


@pytest.mark.parametrize("mode", ["w", "wt", "x", "a"])
def test_a_failed_text_write_leaves_no_file(pool_name: str, mode: str) -> None:
    fs = PoolFileSystem()
    pool = memcatalog.get_pool(pool_name)
    path = f"{pool_name}/half.txt"
    with pytest.raises(RuntimeError), fs.open(path, mode) as f:
        f.write("partial")
        raise RuntimeError("boom")
    assert not fs.exists(path)
    with pytest.raises(RuntimeError), fsspec.open(fs.unstrip_protocol(path), mode) as g:
        g.write("partial")
        raise RuntimeError("boom")
    assert not fs.exists(path)
    assert pool.stats().reserved == 0 and pool.stats().used == 0


def test_text_write_publishes_on_close_and_keeps_the_old_file_on_failure(
    oracle_fs: tuple[fsspec.AbstractFileSystem, str],
) -> None:
    fs, root = oracle_fs
    with fs.open(f"{root}/t.txt", "w", encoding="utf-8", newline="") as f:
        f.write("héllo\r\n")
    assert fs.cat_file(f"{root}/t.txt") == "héllo\r\n".encode()
    with fs.open(f"{root}/t.txt", "a", encoding="utf-8") as f:
        f.write("more")
    assert fs.cat_file(f"{root}/t.txt") == "héllo\r\nmore".encode()
    f = fs.open(f"{root}/explicit.txt", "w")
    try:
        raise KeyError("handled")
    except KeyError:
        f.write("written while handling")
        f.close()
    assert fs.cat_file(f"{root}/explicit.txt") == b"written while handling"
    with fs.open(f"{root}/t.txt", "r", encoding="utf-8") as r:
        assert r.read() == "héllo\nmore"


def test_a_failed_text_overwrite_keeps_the_old_file(pool_name: str) -> None:
    fs = PoolFileSystem()
    fs.pipe_file(f"{pool_name}/keep.txt", b"old")
    with pytest.raises(RuntimeError), fs.open(f"{pool_name}/keep.txt", "w") as f:
        f.write("new")
        raise RuntimeError("boom")
    assert fs.cat_file(f"{pool_name}/keep.txt") == b"old"


def test_an_abandoned_text_writer_publishes_nothing(pool_name: str) -> None:
    import gc

    fs = PoolFileSystem()
    f = fs.open(f"{pool_name}/abandoned.txt", "w")
    f.write("never closed")
    del f
    gc.collect()
    assert not fs.exists(f"{pool_name}/abandoned.txt")
    assert memcatalog.get_pool(pool_name).stats().reserved == 0


def test_text_writes_join_a_transaction(pool_name: str) -> None:
    fs = PoolFileSystem()
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open(f"{pool_name}/a.txt", "w") as f:
            f.write("a")
        raise RuntimeError("abort")
    assert not fs.exists(f"{pool_name}/a.txt")
    with fs.transaction:
        with fs.open(f"{pool_name}/a.txt", "w") as f:
            f.write("a")
        assert not fs.exists(f"{pool_name}/a.txt")
    assert fs.cat_file(f"{pool_name}/a.txt") == b"a"


def test_a_directory_under_a_file_is_refused_and_changes_nothing(
    oracle_fs: tuple[fsspec.AbstractFileSystem, str],
) -> None:
    fs, root = oracle_fs
    fs.pipe_file(f"{root}/f", b"12345")
    for make in (lambda p: fs.makedirs(p, exist_ok=True), lambda p: fs.mkdir(p, create_parents=True)):
        with pytest.raises(NotADirectoryError):
            make(f"{root}/f/sub/deeper")
    assert fs.isfile(f"{root}/f") and not fs.isdir(f"{root}/f") and not fs.exists(f"{root}/f/sub")
    assert fs.cat_file(f"{root}/f") == b"12345"
    if isinstance(fs, PoolFileSystem):
        assert memcatalog.get_pool(root).check() == []


def test_open_takes_fsspec_s_positional_arguments(oracle_fs: tuple[fsspec.AbstractFileSystem, str]) -> None:
    fs, root = oracle_fs
    with fs.open(f"{root}/p.bin", "wb", 1024, None) as f:
        f.write(b"abc")
    with fs.open(f"{root}/p.bin", "rb", 1024, None, None) as f:
        assert f.read() == b"abc"
    with fs.open(f"{root}/p.txt", "w", 1024, None, None, encoding="utf-8") as t:
        t.write("é")
    assert fs.cat_file(f"{root}/p.txt") == "é".encode()
