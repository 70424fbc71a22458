"""docs/api.md and docs/cli-reference.md are what docs/make_reference.py makes from the code now."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import click
import pytest

from memcatalog.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "docs" / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_pages_are_up_to_date() -> None:
    stale = _generator().stale()
    assert stale == [], f"{[p.name for p in stale]} are stale: run python docs/make_reference.py and commit them"


def test_a_changed_page_is_reported_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = _generator()
    old = tmp_path / "api.md"
    old.write_text(generator.API_PAGE.read_text().replace("### `memcatalog.MemCatalog`", "### `memcatalog.Old`"))
    monkeypatch.setattr(generator, "API_PAGE", old)
    assert generator.stale() == [old]
    assert generator.main(["--check"]) == 1


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    page = (ROOT / "docs" / "cli-reference.md").read_text()
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None
        assert f"## `memcatalog {name}`" in page
        for param in command.params:
            if isinstance(param, click.Option):
                assert all(opt in page for opt in param.opts), (name, param.opts)


def test_every_public_name_is_in_the_api_reference() -> None:
    import memcatalog

    page = (ROOT / "docs" / "api.md").read_text()
    for name in memcatalog.__all__:
        if not name.startswith("_"):
            assert f"`memcatalog.{name}" in page, name


def test_the_reference_does_not_change_when_a_deprecated_module_was_imported() -> None:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("memcatalog.validate")  # the module then shadows memcatalog.validate()
    assert _generator().stale() == []
