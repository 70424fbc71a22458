"""Every name a user is meant to call is importable from ``memcatalog`` itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


# What a new interpreter sees, in the order a user meets it; every warning is an error (-W error).
# One interpreter for all of them (starting one and importing pyiceberg is most of each check's cost);
# each step reports its own outcome, so each test below fails only for its own fact.
_FRESH_INTERPRETER = """
import json, sys
facts = {}
try:
    import memcatalog, fsspec
    fsspec.filesystem("memcat")
    facts["pulled in"] = [m for m in ("pyiceberg", "sqlalchemy") if m in sys.modules]
except Exception as e:
    facts["pulled in"] = repr(e)
try:
    from memcatalog import validate
    import memcatalog.validation as v
    facts["validate"] = [validate is v.validate, callable(validate)]
except Exception as e:
    facts["validate"] = repr(e)
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def fresh_interpreter() -> dict[str, object]:
    import json

    run = subprocess.run([sys.executable, "-W", "error", "-c", _FRESH_INTERPRETER], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    facts: dict[str, object] = json.loads(run.stdout)
    return facts


def test_importing_memcatalog_does_not_pull_in_pyiceberg(fresh_interpreter: dict[str, object]) -> None:
    """fsspec users who only open memcat:// URLs pay for the pool, not for pyiceberg and SQLAlchemy."""
    assert fresh_interpreter["pulled in"] == []


def _library_modules() -> list[str]:
    """Every module of the package, except the deprecated aliases (importing them warns) and ``__main__`` (it runs)."""
    import pkgutil

    deprecated = {"memcatalog.validate", "memcatalog.transfer"}
    found = pkgutil.walk_packages(memcatalog.__path__, "memcatalog.")
    return [m.name for m in found if m.name not in deprecated and not m.name.endswith("__main__")]


def test_every_error_is_defined_in_errors_and_exported() -> None:
    import importlib

    from memcatalog import errors

    for name in _library_modules():
        importlib.import_module(name)
    _ = errors.EmptyNamespaceError  # built on first use
    pending, seen = [errors.MemCatalogError], []
    while pending:
        cls = pending.pop()
        seen.append(cls)
        pending.extend(cls.__subclasses__())
    assert len(seen) > 10
    for cls in seen:
        assert cls.__module__ == "memcatalog.errors", f"{cls.__qualname__} is defined in {cls.__module__}"
        assert cls.__name__ in memcatalog.__all__ and getattr(memcatalog, cls.__name__) is cls, cls.__name__


def test_validate_is_importable_from_memcatalog_itself(fresh_interpreter: dict[str, object]) -> None:
    """The function, not the deprecated module of the same name, and without a DeprecationWarning."""
    assert fresh_interpreter["validate"] == [True, True]


def test_the_old_validate_module_path_still_works_with_a_deprecation_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    from memcatalog.errors import SchemaValidationError
    from memcatalog.validation import validate

    # Afterwards the package's attribute is the function again and the old module forgotten,
    # as in a process that never imported the old path (the API reference reads the attribute).
    monkeypatch.setattr(memcatalog, "validate", validate)
    monkeypatch.setitem(sys.modules, "memcatalog.validate", None)
    monkeypatch.delitem(sys.modules, "memcatalog.validate")
    with pytest.deprecated_call(match="from memcatalog import validate"):
        old = importlib.import_module("memcatalog.validate")
    schema = Schema(NestedField(1, "n", LongType(), required=True))
    assert old.validate is validate
    # The submodule is now the package's attribute ``validate``: calling it still validates.
    assert memcatalog.validate is old
    assert memcatalog.validate([{"n": 1}], schema).equals(validate([{"n": 1}], schema))
    with pytest.raises(SchemaValidationError):
        memcatalog.validate([{"n": None}], schema)
    assert isinstance(validate([{"n": 1}], schema), pa.Table)


@pytest.mark.parametrize(
    ("old", "new"), [("MemcatalogError", "MemCatalogError"), ("MemCatalogFileSystem", "PoolFileSystem")]
)
def test_a_renamed_name_still_resolves_with_a_deprecation_warning(old: str, new: str) -> None:
    with pytest.deprecated_call(match=f"use memcatalog.{new}"):
        assert getattr(memcatalog, old) is getattr(memcatalog, new)
    assert old not in memcatalog.__all__ and new in memcatalog.__all__


def test_installed_fsspec_entry_points_naming_the_old_class_still_load() -> None:
    from memcatalog.filesystem import MemCatalogFileSystem, PoolFileSystem

    assert MemCatalogFileSystem is PoolFileSystem
    import fsspec

    assert isinstance(fsspec.filesystem("memcat"), PoolFileSystem)
