"""The layering docs/architecture.md describes, checked on the source: imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import memcatalog

PACKAGE = Path(memcatalog.__file__).parent

# Layers from the bottom up; a module may import its own layer's modules and those below, never above.
LAYERS: list[set[str]] = [
    {"config", "errors", "names", "paths", "urls", "arrow_check", "schema"},
    {"pool", "buckets", "leases"},
    {"files", "filesystem"},
    {"ownership", "fileio", "tracking", "registry", "validation", "validate", "pyiceberg_internals"},
    {"writer", "catalog", "views", "maintenance", "archive", "tablecopy", "transfer"},
    {"duckdb", "duckdb_rest", "serving", "uvicorn_server", "rest", "s3"},
    {"cli", "bench", "__main__"},
]
NO_PYICEBERG = {"config", "names", "paths", "urls", "pool", "leases", "files", "filesystem"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (at top level or inside functions), as dotted names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "memcatalog":
                found |= {f"memcatalog.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _ours(imports: set[str]) -> set[str]:
    return {i.removeprefix("memcatalog.").split(".")[0] for i in imports if i.startswith("memcatalog.")}


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(name: str) -> int | None:
    top = name.split(".")[0]
    return next((i for i, layer in enumerate(LAYERS) if top in layer), None)


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) is not None])
def test_a_module_imports_nothing_from_a_layer_above_it(name: str) -> None:
    own = _layer(name)
    assert own is not None
    above = sorted(m for m in _ours(_imports(MODULES[name])) if m != name.split(".")[0] and (_layer(m) or 0) > own)
    assert above == [], f"{name} (layer {own}) imports {above} from above it: see docs/architecture.md"


def test_every_library_module_has_a_layer() -> None:
    unplaced = [n for n in MODULES if _layer(n) is None and n != ""]  # "": the package's __init__
    assert unplaced == [], "add new modules to LAYERS here and to docs/architecture.md"


def test_nothing_below_the_fileio_imports_pyiceberg() -> None:
    found = {n: sorted(i for i in _imports(MODULES[n]) if i.startswith("pyiceberg")) for n in sorted(NO_PYICEBERG)}
    assert {n: i for n, i in found.items() if i} == {}


def test_the_library_never_imports_the_command_line_tools() -> None:
    library = [n for n in MODULES if not n.startswith(("cli", "bench", "__main__"))]
    assert [n for n in library if "cli" in _ours(_imports(MODULES[n]))] == []


def test_pyiceberg_private_names_are_used_only_in_pyiceberg_internals() -> None:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import DataFile, ManifestFile
    from pyiceberg.table import StagedTable, Transaction

    classes = [SqlCatalog, StagedTable, Transaction, PyArrowFileIO, DataFile, ManifestFile]
    private = {n for c in classes for k in c.__mro__ for n in vars(k) if n.startswith("_") and not n.startswith("__")}
    assert "_iceberg_type_filter" in private and "_write_metadata" in private
    found = []
    for name, path in MODULES.items():
        if name == "pyiceberg_internals":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{name}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyiceberg"):
                found += [f"{name}:{node.lineno}: {a.name}" for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.ClassDef):  # a method overriding a private hook
                methods = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name in private]
                found += [f"{name}:{f.lineno}: def {node.name}.{f.name}" for f in methods]
    assert found == [], "wrap it once in memcatalog/pyiceberg_internals.py, with a contract test"
