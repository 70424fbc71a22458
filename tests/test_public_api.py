"""Every name a user is meant to call is importable from ``memcatalog`` itself."""

from __future__ import annotations

import subprocess
import sys

import memcatalog


def test_every_public_name_resolves_and_is_the_real_object() -> None:
    from memcatalog.archive import restore, save
    from memcatalog.catalog import MemCatalog
    from memcatalog.tablecopy import export_table, import_table
    from memcatalog.writer import TableWriter

    for name in memcatalog.__all__:
        assert getattr(memcatalog, name) is not None, name
    assert memcatalog.MemCatalog is MemCatalog
    assert memcatalog.TableWriter is TableWriter
    assert (memcatalog.save, memcatalog.restore) == (save, restore)
    assert (memcatalog.import_table, memcatalog.export_table) == (import_table, export_table)


def test_dir_lists_the_public_names() -> None:
    assert set(memcatalog.__all__) <= set(dir(memcatalog))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        memcatalog.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("memcatalog.no_such_thing resolved")


def test_importing_memcatalog_does_not_pull_in_pyiceberg() -> None:
    """fsspec users who only open memcat:// URLs pay for the pool, not for pyiceberg and SQLAlchemy."""
    code = "import sys, memcatalog, fsspec; fsspec.filesystem('memcat'); print('pyiceberg' in sys.modules, 'sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
