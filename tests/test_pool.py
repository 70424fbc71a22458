from __future__ import annotations

import contextlib
import errno
import logging
import threading
from dataclasses import dataclass

import pyarrow as pa
import pytest

from memcatalog import QuotaExceededError, parse_size
from memcatalog.errors import MemCatalogError
from memcatalog.pool import Pool, PoolStats, PressureAlert


def test_parse_size_accepts_bytes_and_human_strings() -> None:
    assert parse_size(1024) == 1024
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("1.5 KiB") == 1536


@pytest.mark.parametrize("bad", ["", "-1", "0", "abc", "12 parsecs", 0, -5, True])
def test_parse_size_refuses_empty_non_positive_and_unknown_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)  # type: ignore[arg-type]


def test_default_quota_is_one_gib() -> None:
    assert Pool("q").quota == 2**30


def test_put_get_is_zero_copy(pool: Pool) -> None:
    buf = pa.py_buffer(b"x" * 1000)
    pool.put_buffer("a/b", buf)
    assert pool.get("a/b").address == buf.address
    assert pool.stats().used == 1000


def test_accounting_is_exact_across_overwrite_and_remove(pool: Pool) -> None:
    pool.put("f", b"a" * 100)
    pool.put("f", b"b" * 40)
    pool.put("g/h", b"c" * 10)
    assert pool.stats().used == 50
    assert pool.stats().files == 2
    assert pool.remove("f") == 40
    assert pool.stats().used == 10
    assert pool.check() == []


@dataclass
class Overflow:
    """What streaming 10 MB into a 1 MiB pool that already holds a file did."""

    before: PoolStats
    written: int
    error: QuotaExceededError


def overflow(pool: Pool) -> Overflow:
    pool.put("keep", b"k" * 1000)
    before = pool.stats()
    w = pool.writer("big")
    chunk = b"z" * 100_000
    written = 0
    with pytest.raises(QuotaExceededError) as info:
        for _ in range(100):  # 10 MB into a 1 MiB pool: fails at the first chunk past the quota
            w.write(chunk)
            written += len(chunk)
    return Overflow(before, written, info.value)


def test_a_stream_past_the_quota_fails_at_the_first_chunk_that_does_not_fit(pool: Pool) -> None:
    assert overflow(pool).written < 2**20


def test_quota_exceeded_is_an_enospc_oserror_and_a_memcatalog_error(pool: Pool) -> None:
    err = overflow(pool).error
    assert isinstance(err, OSError) and isinstance(err, MemCatalogError)
    assert err.errno == errno.ENOSPC


def test_quota_exceeded_names_the_file_the_quota_and_the_fix(pool: Pool) -> None:
    err = overflow(pool).error
    assert "memcat://" in str(err) and "big" in str(err) and "1.0 MiB" in str(err) and "quota" in str(err)


def test_quota_exceeded_mid_stream_leaves_pool_as_before(pool: Pool) -> None:
    before = overflow(pool).before
    after = pool.stats()
    assert (after.used, after.reserved, after.files) == (before.used, 0, before.files)
    assert pool.entry("big") is None
    assert pool.check() == []


def test_abandoned_writer_releases_its_reservation(pool: Pool) -> None:
    w = pool.writer("x")
    w.write(b"1" * 5000)
    assert pool.stats().reserved == 5000
    del w
    assert pool.stats().reserved == 0
    assert pool.entry("x") is None


def test_quota_can_be_lowered_below_use_without_dropping_data(pool: Pool) -> None:
    pool.put("a", b"a" * 600_000)
    pool.set_quota(100_000)
    assert pool.get("a").size == 600_000
    with pytest.raises(QuotaExceededError):
        pool.put("b", b"b")
    pool.set_quota("2MiB")
    pool.put("b", b"b")
    assert pool.stats().files == 2


def test_writing_a_file_makes_its_parent_directories(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    assert pool.is_dir("d") and pool.is_dir("d/e")


def test_writing_below_a_file_is_not_a_directory_error(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    with pytest.raises(NotADirectoryError):
        pool.put("d/e/f/g", b"1")


def test_writing_a_file_over_a_directory_is_a_directory_error(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    with pytest.raises(IsADirectoryError):
        pool.put("d/e", b"1")


def test_removing_a_directory_that_holds_files_is_enotempty(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    with pytest.raises(OSError) as info:
        pool.rmdir("d/e")
    assert info.value.errno == errno.ENOTEMPTY


def test_a_directory_stays_when_its_last_file_is_removed(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    pool.remove("d/e/f")
    assert pool.is_dir("d/e")


def test_an_empty_directory_can_be_removed(pool: Pool) -> None:
    pool.put("d/e/f", b"1")
    pool.remove("d/e/f")
    pool.rmdir("d/e")
    assert pool.listdir("d") == []


def test_pressure_alerts_fire_once_per_crossing(pool: Pool, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[PressureAlert] = []
    pool.on_pressure(seen.append)
    caplog.set_level(logging.WARNING, logger="memcatalog.pool")
    quota = pool.quota
    pool.put("a", b"a" * int(quota * 0.5))
    assert seen == []
    pool.put("b", b"b" * int(quota * 0.31))  # 81%
    pool.put("c", b"c" * 10)  # still above 80%: no second alert
    assert [a.threshold for a in seen] == [0.80]
    pool.put("d", b"d" * int(quota * 0.15))  # 96%
    assert [a.threshold for a in seen] == [0.80, 0.95]
    pool.remove("d")
    pool.remove("b")  # back to 50%
    pool.put("b", b"b" * int(quota * 0.31))  # crosses 80% again
    assert [a.threshold for a in seen] == [0.80, 0.95, 0.80]
    assert "memory pressure" in caplog.text


def test_writers_in_eight_threads_never_exceed_quota(pool: Pool) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        for j in range(20):
            w = pool.writer(f"t{i}/f{j}")
            try:
                for _ in range(10):
                    w.write(b"x" * 4096)
                w.commit()
            except QuotaExceededError as e:
                errors.append(e)
            if j % 3 == 0:
                with contextlib.suppress(FileNotFoundError):
                    pool.remove(f"t{i}/f{j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = pool.stats()
    assert errors, "the workload is sized to hit the quota"
    assert stats.peak <= stats.quota
    assert stats.reserved == 0
    assert stats.used == sum(e.size for _, e in pool.items())
    assert pool.check() == []


def test_check_reports_discrepancies(pool: Pool) -> None:
    pool.put("a", b"123")
    pool._acct.used += 7  # simulate a bookkeeping bug
    problems = pool.check()
    assert len(problems) == 1 and "used is 10 bytes but files hold 3" in problems[0]
    pool._acct.used -= 7


def test_usage_by_prefix(pool: Pool) -> None:
    pool.put("db/t1/data/a", b"1" * 10)
    pool.put("db/t1/metadata/m", b"1" * 5)
    pool.put("db/t2/data/a", b"1" * 7)
    pool.put("db/t10/a", b"1" * 100)
    assert pool.usage("db/t1") == (15, 2)
    assert pool.usage("db") == (122, 4)


def relieved(pool: Pool) -> list[int]:
    """Fill the pool, register a reliever that frees "old" once, write "new"; the shortfalls it was asked for."""
    pool.put("old", b"o" * 900_000)
    asked: list[int] = []

    def reliever(shortfall: int) -> int:
        asked.append(shortfall)
        pool.put("nested", b"x")  # a reliever's own write does not call relievers again
        return pool.remove("old") + pool.remove("nested")  # raises the second time: the pool logs it

    pool.on_full(reliever)
    pool.put("new", b"n" * 500_000)
    return asked


def test_a_reliever_can_free_space_before_a_write_fails(pool: Pool) -> None:
    asked = relieved(pool)
    assert asked and asked[0] > 0
    assert pool.entry("old") is None and pool.get("new").size == 500_000


def test_a_write_fails_with_the_quota_error_when_the_reliever_fails(pool: Pool) -> None:
    asked = relieved(pool)
    with pytest.raises(QuotaExceededError):
        pool.put("huge", b"h" * 2_000_000)  # the reliever raises: the write fails with the quota error
    assert len(asked) == 2 and pool.entry("huge") is None
    assert pool.check() == []


@pytest.mark.parametrize("bad", ["9" * 400, "1" + "0" * 30 + "GiB", float("inf"), float("nan"), 1e300, 2**63, "1e5"])
def test_parse_size_refuses_every_bad_size_with_the_same_clear_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match=r"invalid size .*give bytes as an integer or a string such as '512MiB'"):
        parse_size(bad)  # type: ignore[arg-type]


def test_a_pressure_callback_may_abort_the_writer_that_crossed_the_threshold(pool: Pool) -> None:
    """Callbacks run outside every pool and writer lock: aborting the writer from one must not deadlock."""
    writer = pool.writer("big")
    aborted: list[PressureAlert] = []

    def abort_it(alert: PressureAlert) -> None:
        writer.abort()
        aborted.append(alert)

    pool.on_pressure(abort_it)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            writer.write(b"x" * int(pool.quota * 0.9))
            outcome.append(None)
        except BaseException as e:  # reported below
            outcome.append(e)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(timeout=60)  # a deadlock detector, not a timing assertion
    assert not thread.is_alive(), "the pressure callback deadlocked on the writer's lock"
    assert outcome == [None] and [a.threshold for a in aborted] == [0.80]
    assert writer.closed
    with pytest.raises(ValueError, match="after it was committed or aborted"):
        writer.write(b"more")
    assert pool.stats().reserved == 0 and pool.stats().used == 0 and pool.check() == []
