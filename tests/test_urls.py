"""memcatalog.urls turns URLs into (pool, key) and back; memcatalog.pool.locate finds the live pool."""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import memcatalog
from memcatalog import urls
from memcatalog.fileio import MemFileIO
from memcatalog.pool import Pool, locate

_part = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1).filter(
    lambda p: p not in (".", "..")
)


@given(pool=_part, key=st.lists(_part, max_size=4).map("/".join))
def test_build_then_parse_gives_back_pool_and_key(pool: str, key: str) -> None:
    assert urls.parse(urls.build(pool, key)) == (pool, key)


def test_every_accepted_form_parses_to_the_same_pool_and_key() -> None:
    forms = ["memcat://demo/db/t/x.parquet", "memcat::demo/db/t/x.parquet", "demo/db/t/x.parquet"]
    forms += ["memcat://demo//db/./t/../t/x.parquet"]
    assert {urls.parse(f) for f in forms} == {("demo", "db/t/x.parquet")}


def test_the_pool_root_url_has_an_empty_key() -> None:
    assert urls.build("demo") == "memcat://demo/"
    assert urls.parse("memcat://demo/") == ("demo", "")


def test_a_url_that_walks_out_of_its_pool_is_refused() -> None:
    with pytest.raises(PermissionError, match="leaves its pool"):
        urls.parse("memcat://demo/../other/x")


def test_locate_finds_the_pool_and_key(pool: Pool) -> None:
    found, key = locate(urls.build(pool.name, "a/b.bin"))
    assert found is pool and key == "a/b.bin"


def test_locate_of_a_missing_pool_names_it_and_creates_nothing(pool_name: str) -> None:
    with pytest.raises(FileNotFoundError, match=f"no pool named '{pool_name}' in this process"):
        locate(urls.build(pool_name, "x"))
    assert memcatalog.pool.find_pool(pool_name) is None


def test_locate_with_create_makes_the_pool(pool_name: str) -> None:
    pool, key = locate(urls.build(pool_name, "x"), create=True)
    assert pool is memcatalog.pool.find_pool(pool_name) and key == "x"


def test_the_memcat_root_is_no_file() -> None:
    with pytest.raises(IsADirectoryError):
        locate("memcat://")


def test_filesystem_and_fileio_report_a_missing_pool_alike(pool_name: str) -> None:
    url = urls.build(pool_name, "x.bin")
    with pytest.raises(FileNotFoundError) as from_fs:
        fsspec.filesystem("memcat").cat_file(url)
    with pytest.raises(FileNotFoundError) as from_io:
        len(MemFileIO().new_input(url))
    assert str(from_fs.value) == str(from_io.value)


def test_fileio_writes_where_fsspec_reads(pool: Pool) -> None:
    url = urls.build(pool.name, "d/x.bin")
    with MemFileIO().new_output(url).create() as f:
        f.write(b"abc")
    assert fsspec.filesystem("memcat").cat_file(url) == b"abc"


@pytest.fixture
def served_scheme(pool: Pool) -> Iterator[str]:
    """A made-up scheme whose bucket ``b`` is ``pool``."""

    def resolve(url: str) -> tuple[str, str] | None:
        bucket, _, key = url.removeprefix("served://").partition("/")
        return (pool.name, key) if bucket == "b" else None

    urls.register_scheme("served", resolve)
    yield "served"
    urls.unregister_scheme("served")


def test_a_registered_scheme_maps_its_urls_to_pools(served_scheme: str, pool: Pool) -> None:
    pool.put("k/x.bin", b"abc")
    assert urls.is_pool_url("served://b/k/x.bin") and not urls.is_pool_url("served://other/x")
    found, key = locate("served://b/k/x.bin")
    assert found is pool and bytes(found.get(key)) == b"abc"


def test_a_scheme_not_registered_is_no_pool_url() -> None:
    assert not urls.is_pool_url("s3://bucket/x") and not urls.is_pool_url("file:///tmp/x")


def test_registering_a_scheme_twice_is_refused(served_scheme: str) -> None:
    with pytest.raises(ValueError, match="already maps to pools"):
        urls.register_scheme(served_scheme, lambda url: None)


def test_memcat_itself_cannot_be_registered() -> None:
    with pytest.raises(ValueError, match="always pool URLs"):
        urls.register_scheme("memcat", lambda url: None)


def test_a_written_file_is_named_by_its_url(pool: Pool) -> None:
    url = urls.build(pool.name, "named.bin")
    with fsspec.open(url, "wb") as f:
        f.write(pa.py_buffer(b"x"))
        assert f.path == url


def test_the_same_file_can_be_named_under_another_scheme() -> None:
    assert urls.build("demo", "db/t", scheme="s3") == "s3://demo/db/t"
    assert urls.build(*urls.parse("memcat://demo/"), scheme="s3") == "s3://demo/"
