"""PoolWriter.take: joining separately written parts (multipart uploads) moves their reservations."""

from __future__ import annotations

import pytest

from memcatalog.errors import QuotaExceededError
from memcatalog.pool import Pool


def test_take_moves_the_reservation_and_cannot_fail_on_the_quota(pool: Pool) -> None:
    first, second = pool.writer("f"), pool.writer("f")
    first.write(b"a" * 600_000)
    second.write(b"b" * 400_000)
    with pytest.raises(QuotaExceededError):
        pool.writer("other").write(b"c" * 100_000)  # both parts together hold the pool
    target = pool.writer("f")
    assert target.take(first) == 600_000
    assert target.take(second) == 400_000
    assert pool.stats().reserved == 1_000_000
    target.commit()
    assert bytes(pool.get("f")) == b"a" * 600_000 + b"b" * 400_000
    stats = pool.stats()
    assert (stats.used, stats.reserved) == (1_000_000, 0)
    first.abort()  # already finished by take(): releases nothing twice
    assert pool.check() == []


def test_an_aborted_target_frees_what_it_took(pool: Pool) -> None:
    part, target = pool.writer("f"), pool.writer("f")
    part.write(b"x" * 1000)
    target.take(part)
    target.abort()
    assert pool.stats().reserved == 0


def test_take_refuses_a_finished_writer(pool: Pool) -> None:
    part = pool.writer("f")
    part.write(b"x")
    part.commit()
    with pytest.raises(ValueError, match="already committed or aborted"):
        pool.writer("g").take(part)
    assert pool.stats().reserved == 0
