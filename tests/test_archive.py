"""save/restore under concurrency and damage: whole archives or none, damaged saves load nothing."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

import memcatalog
from memcatalog import MemCatalog, SaveFormatError
from memcatalog.archive import MANIFEST, restore, save
from memcatalog.cli.main import main

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False)])


def ids(catalog: MemCatalog, identifier: str = "db.t") -> list[int]:
    return sorted(catalog.load_table(identifier).scan().to_arrow().column("id").to_pylist())


def make_catalog(rows: int = 30) -> MemCatalog:
    cat = MemCatalog(f"arc{uuid.uuid4().hex[:8]}")
    cat.create_namespace("db", {"owner": "me"})
    t = cat.create_table("db.t", SCHEMA)
    t.append(pa.table({"id": pa.array(range(rows), pa.int64())}, schema=SCHEMA))
    t.append(pa.table({"id": pa.array(range(rows, rows + 5), pa.int64())}, schema=SCHEMA))
    return cat


@pytest.fixture
def saved(tmp_path: Path) -> Iterator[tuple[Path, str, list[int]]]:
    """A good .tar save whose pool is gone from this process, as after a restart: (archive, pool name, ids)."""
    cat = make_catalog()
    expected = ids(cat)
    archive = tmp_path / "good.tar"
    save(cat, archive)
    pool = cat.pool.name
    memcatalog.drop_pool(pool)
    yield archive, pool, expected
    memcatalog.drop_pool(pool)


def rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of ``archive`` with each member passed through ``change`` (None drops it)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            stream = src.extractfile(member)
            assert stream is not None
            data = change(member.name, stream.read())
            if data is not None:
                info = tarfile.TarInfo(member.name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
    return out


def edit_manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[str, bytes], bytes | None]:
    def change(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        result = edit(manifest)
        return json.dumps(manifest if result is None else result).encode()

    return change


def first_data_member(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        return next(n for n in tar.getnames() if n.endswith(".parquet"))


def assert_nothing_loaded(pool: str) -> None:
    """The pool did not exist before the restore; a failed one must not leave it (or files in it) behind."""
    assert memcatalog.pool.find_pool(pool) is None, f"a failed restore left pool {pool!r} behind"


DAMAGES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "missing member": (
        lambda a, out: rewrite(a, out, lambda n, d: None if n == first_data_member(a) else d),
        r"damaged save: files/.*\.parquet is missing",
    ),
    "manifest not JSON": (
        lambda a, out: rewrite(a, out, lambda n, d: b"{not json" if n == MANIFEST else d),
        r"damaged save: memcatalog\.json cannot be read",
    ),
    "files is a list": (
        lambda a, out: rewrite(a, out, edit_manifest(lambda m: m.update(files=[]))),
        r"malformed memcatalog\.json: 'files' must map",
    ),
    "tables without identifier": (
        lambda a, out: rewrite(a, out, edit_manifest(lambda m: m.update(tables=[{"metadata_location": "x"}]))),
        r"malformed memcatalog\.json: 'tables'",
    ),
    "manifest is a list": (
        lambda a, out: rewrite(a, out, edit_manifest(lambda m: [m])),
        r"malformed memcatalog\.json: a JSON object expected",
    ),
    "size differs from the manifest": (
        lambda a, out: rewrite(
            a, out, edit_manifest(lambda m: m["files"].update({k: v + 1 for k, v in m["files"].items()}))
        ),
        r"damaged save: files/.* holds \d+ bytes, the manifest says \d+",
    ),
    "a referenced file left out of the manifest": (
        lambda a, out: rewrite(
            a,
            out,
            edit_manifest(
                lambda m: m.update(files={k: v for k, v in m["files"].items() if not k.endswith(".parquet")})
            ),
        ),
        r"damaged save: table db\.t references memcat://.*\.parquet.*not in the save",
    ),
    "truncated": (
        lambda a, out: out.write_bytes(a.read_bytes()[: a.stat().st_size // 2]) and out,  # type: ignore[func-returns-value]
        r"damaged save|not a memcatalog save",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_archive_names_the_damage_and_loads_nothing(
    saved: tuple[Path, str, list[int]], tmp_path: Path, damage: str
) -> None:
    archive, pool, expected = saved
    make, message = DAMAGES[damage]
    broken = make(archive, tmp_path / "broken.tar")
    with pytest.raises(SaveFormatError, match=message):
        restore(broken)
    assert_nothing_loaded(pool)
    good = restore(archive)  # nothing left behind blocks the good save
    assert ids(good) == expected and good.check() == []


def test_the_manifest_missing_from_an_archive(saved: tuple[Path, str, list[int]], tmp_path: Path) -> None:
    archive, pool, _ = saved
    broken = rewrite(archive, tmp_path / "broken.tar", lambda n, d: None if n == MANIFEST else d)
    with pytest.raises(SaveFormatError, match=r"not a memcatalog save: no memcatalog\.json"):
        restore(broken)
    assert_nothing_loaded(pool)


def test_a_damaged_directory_save_loads_nothing(tmp_path: Path) -> None:
    cat = make_catalog()
    expected, pool = ids(cat), cat.pool.name
    save(cat, tmp_path / "dir")
    memcatalog.drop_pool(pool)
    victim = next((tmp_path / "dir").rglob("*.parquet"))
    data = victim.read_bytes()
    victim.write_bytes(data[:-3])
    with pytest.raises(SaveFormatError, match=r"holds \d+ bytes, the manifest says \d+"):
        restore(tmp_path / "dir")
    assert_nothing_loaded(pool)
    victim.write_bytes(data)
    assert ids(restore(tmp_path / "dir")) == expected
    memcatalog.drop_pool(pool)


def test_a_directory_restore_never_follows_a_symlink_out(tmp_path: Path) -> None:
    cat = make_catalog()
    pool = cat.pool.name
    save(cat, tmp_path / "dir")
    memcatalog.drop_pool(pool)
    victim = next((tmp_path / "dir").rglob("*.parquet"))
    outside = tmp_path / "secret.parquet"
    outside.write_bytes(victim.read_bytes())  # same size: only the link itself can give it away
    victim.unlink()
    victim.symlink_to(outside)
    with pytest.raises(SaveFormatError, match="is a symbolic link"):
        restore(tmp_path / "dir")
    assert_nothing_loaded(pool)
    (tmp_path / "dir" / "files").rename(tmp_path / "real-files")
    (tmp_path / "dir" / "files").symlink_to(tmp_path / "real-files")  # a linked directory is refused too
    with pytest.raises(SaveFormatError, match="files is a symbolic link"):
        restore(tmp_path / "dir")
    assert_nothing_loaded(pool)


def test_a_tar_with_a_link_member_is_refused(saved: tuple[Path, str, list[int]], tmp_path: Path) -> None:
    archive, pool, _ = saved
    member = first_data_member(archive)
    out = tmp_path / "linked.tar"
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for m in src.getmembers():
            if m.name == member:
                link = tarfile.TarInfo(m.name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                dst.addfile(link)
            else:
                dst.addfile(m, src.extractfile(m))
    with pytest.raises(SaveFormatError, match="link or special file"):
        restore(out)
    assert_nothing_loaded(pool)


def test_a_directory_save_is_published_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = make_catalog()
    import memcatalog.archive as archive

    real, calls = archive.locate, {"n": 0}

    def failing(url: str, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("pool read failed")
        return real(url, **kwargs)

    monkeypatch.setattr(archive, "locate", failing)
    for target in (tmp_path / "dir", tmp_path / "a.tar"):
        calls["n"] = 0
        with pytest.raises(OSError, match="pool read failed"):
            save(cat, target)
    assert list(tmp_path.iterdir()) == [], "a failed save left a partial file or directory"
    memcatalog.drop_pool(cat.pool.name)


def test_a_failed_save_keeps_the_previous_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = make_catalog()
    save(cat, tmp_path / "a.tar")
    before = (tmp_path / "a.tar").read_bytes()
    import memcatalog.archive as archive

    monkeypatch.setattr(archive, "locate", lambda url, **kw: (_ for _ in ()).throw(OSError("pool read failed")))
    with pytest.raises(OSError, match="pool read failed"):
        save(cat, tmp_path / "a.tar")
    assert (tmp_path / "a.tar").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar"]
    memcatalog.drop_pool(cat.pool.name)


def test_concurrent_saves_to_one_archive_publish_one_whole_save(tmp_path: Path) -> None:
    catalogs = [make_catalog(rows=20 + 40 * i) for i in range(4)]
    expected = {c.pool.name: ids(c) for c in catalogs}
    target = tmp_path / "shared.tar"
    start = threading.Barrier(len(catalogs) * 2)
    errors: list[BaseException] = []

    def run(cat: MemCatalog) -> None:
        start.wait()
        try:
            save(cat, target)
        except BaseException as e:  # collected: the test fails on any
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in catalogs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["shared.tar"], "partial files left behind"
    with tarfile.open(target) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
    winner = manifest["pool"]
    for cat in catalogs:
        memcatalog.drop_pool(cat.pool.name)
    restored = restore(target)  # the archive is exactly one catalog's save, whole
    assert ids(restored) == expected[winner] and restored.check() == []
    memcatalog.drop_pool(winner)


def test_concurrent_saves_to_one_directory_leave_one_whole_save(tmp_path: Path) -> None:
    catalogs = [make_catalog(rows=10 + 10 * i) for i in range(3)]
    expected = {c.pool.name: ids(c) for c in catalogs}
    target = tmp_path / "shared"
    start = threading.Barrier(len(catalogs))
    outcomes: list[str] = []

    def run(cat: MemCatalog) -> None:
        start.wait()
        try:
            save(cat, target)
            outcomes.append("saved")
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=run, args=(c,)) for c in catalogs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "refused", "saved"]
    assert [p.name for p in tmp_path.iterdir()] == ["shared"]
    winner = json.loads((target / MANIFEST).read_text())["pool"]
    for cat in catalogs:
        memcatalog.drop_pool(cat.pool.name)
    assert ids(restore(target)) == expected[winner]
    memcatalog.drop_pool(winner)


# --- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["restore", "{missing}"],
        ["export", "{missing}", "--uri", "sqlite:///{tmp}/r.db", "--warehouse", "file://{tmp}/wh"],
        ["shell", "--restore", "{missing}", "-c", "SELECT 1"],
    ],
    ids=["restore", "export", "shell"],
)
def test_a_missing_archive_is_an_error_naming_it(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nothere.tar"
    out = CliRunner().invoke(main, [a.format(missing=missing, tmp=tmp_path) for a in args])
    assert out.exit_code == 1, out.output
    assert f"no saved catalog at {missing}" in out.output
    assert not missing.exists() and not (tmp_path / "r.db").exists() and not (tmp_path / "wh").exists()


def test_a_damaged_archive_on_the_command_line(saved: tuple[Path, str, list[int]], tmp_path: Path) -> None:
    archive, _, _ = saved
    broken = rewrite(archive, tmp_path / "broken.tar", lambda n, d: None if n == first_data_member(archive) else d)
    out = CliRunner().invoke(main, ["restore", str(broken)])
    assert out.exit_code == 1 and "damaged save" in out.output and "is missing" in out.output


def test_import_into_a_directory_save_swaps_it_whole(tmp_path: Path) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    disk = SqlCatalog("disk", uri=f"sqlite:///{tmp_path}/disk.db", warehouse=f"file://{tmp_path}/wh")
    disk.create_namespace("prod")
    t = disk.create_table("prod.t", SCHEMA)
    t.append(pa.table({"id": pa.array([1, 2, 3], pa.int64())}, schema=SCHEMA))
    location = disk.load_table("prod.t").metadata_location
    saved = tmp_path / "saves" / "tables"
    (tmp_path / "saves" / "tables.new").mkdir(parents=True)  # left over by an earlier run that died
    (tmp_path / "saves" / "tables.new" / "x").write_text("x")
    for name in ("db.a", "db.b"):
        out = CliRunner().invoke(main, ["import", location, name, "--save", str(saved)])
        assert out.exit_code == 0, out.output
        assert saved.is_dir()  # the first import made a new directory save, the second replaced it
    assert sorted(p.name for p in (tmp_path / "saves").iterdir()) == ["tables", "tables.new"]
    restored = restore(saved)
    try:
        assert ids(restored, "db.a") == ids(restored, "db.b") == [1, 2, 3]
    finally:
        memcatalog.drop_pool(restored.pool.name)
