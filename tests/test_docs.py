"""Every Python example in README.md and docs/ runs here, so the docs cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memcatalog

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)

pytest_plugins = ["pytester"]


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_docs_have_examples() -> None:
    assert sum(len(blocks(p)) for p in PAGES) >= 15


# Pages whose examples start subprocesses (pytester runs, the CLI) run with the long tests.
SLOW_PAGES = {"cli.md", "outgrowing-memory.md"}


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW_PAGES else []) for p in PAGES],
)
def test_examples_run(page: Path, request: pytest.FixtureRequest) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    pools_before = set(memcatalog.list_pools())
    for i, code in enumerate(blocks(page)):
        if re.search(r"^def test_", code, re.MULTILINE):
            # pytester resets sys.modules after the test: ask for it only where a block needs it.
            pytester: pytest.Pytester = request.getfixturevalue("pytester")
            pytester.makepyfile(**{f"test_docs_{page.stem}_{i}": code})
            result = pytester.runpytest_subprocess()
            assert result.ret == 0, f"{page.name} block {i}:\n{result.stdout.str()}"
            continue
        try:
            exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{page.name} block {i} failed: {e!r}\n{code}") from e
    for name in set(memcatalog.list_pools()) - pools_before:
        memcatalog.drop_pool(name)
