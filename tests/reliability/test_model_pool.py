"""Model-based: random filesystem operations on memcat:// checked against a plain dict after every step."""

from __future__ import annotations

import uuid

import fsspec
import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import memcatalog
from memcatalog import QuotaExceededError

NAMES = st.sampled_from(["a", "b", "c", "d/e", "d/f", "g/h/i"])
DATA = st.binary(max_size=3000)


class PoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.name = f"model-{uuid.uuid4().hex[:8]}"
        self.pool = memcatalog.get_pool(self.name, quota=8000)
        self.fs = fsspec.filesystem("memcat")
        self.model: dict[str, bytes] = {}

    def url(self, key: str) -> str:
        return f"memcat://{self.name}/{key}"

    def _fits(self, key: str, size: int) -> bool:
        return sum(len(v) for v in self.model.values()) + size <= self.pool.quota

    def _blocked(self, key: str) -> bool:
        """A key whose parent is a file, or which is a directory, cannot be written."""
        parts = key.split("/")
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        is_dir = any(k.startswith(key + "/") for k in self.model)
        return bool(parents & set(self.model)) or is_dir or self.pool.is_dir(key)

    @rule(key=NAMES, data=DATA)
    def write(self, key: str, data: bytes) -> None:
        if self._blocked(key):
            return
        try:
            with self.fs.open(self.url(key), "wb") as f:
                for i in range(0, len(data), 700):
                    f.write(data[i : i + 700])
        except QuotaExceededError:
            assert not self._fits(key, len(data))
            return
        self.model[key] = data

    @rule(key=NAMES, data=DATA)
    def failing_write(self, key: str, data: bytes) -> None:
        try:
            with self.fs.open(self.url(key), "wb") as f:
                f.write(data)
                raise RuntimeError("the caller fails mid-write")
        except (RuntimeError, QuotaExceededError, IsADirectoryError, NotADirectoryError):
            pass

    @rule(key=NAMES, data=DATA)
    def append(self, key: str, data: bytes) -> None:
        if self._blocked(key):
            return
        new = self.model.get(key, b"") + data
        try:
            with self.fs.open(self.url(key), "ab") as f:
                f.write(data)
        except QuotaExceededError:
            return
        self.model[key] = new

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        self.fs.rm(self.url(key))
        del self.model[key]

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), dst=NAMES)
    def move(self, data: st.DataObject, dst: str) -> None:
        src = data.draw(st.sampled_from(sorted(self.model)))
        if src == dst or self._blocked(dst) or dst.startswith(src + "/"):
            return
        self.fs.mv(self.url(src), self.url(dst))
        self.model[dst] = self.model.pop(src)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), dst=NAMES)
    def copy(self, data: st.DataObject, dst: str) -> None:
        src = data.draw(st.sampled_from(sorted(self.model)))
        if src == dst or self._blocked(dst):
            return
        try:
            self.fs.cp_file(self.url(src), self.url(dst))
        except QuotaExceededError:
            return
        self.model[dst] = self.model[src]

    @rule(quota=st.integers(min_value=1000, max_value=12000))
    def change_quota(self, quota: int) -> None:
        self.pool.set_quota(quota)

    @invariant()
    def matches_model(self) -> None:
        for key, value in self.model.items():
            assert self.fs.cat_file(self.url(key)) == value
        assert sorted(self.pool.keys()) == sorted(self.model)
        stats = self.pool.stats()
        assert stats.used == sum(len(v) for v in self.model.values())
        assert stats.reserved == 0
        assert self.pool.check() == []

    def teardown(self) -> None:
        memcatalog.drop_pool(self.name)


TestPoolModel = PoolMachine.TestCase
TestPoolModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
