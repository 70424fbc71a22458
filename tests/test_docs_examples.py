"""The shell examples of the docs that run a program (test_docs.py runs the Python blocks)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASH = re.compile(r"```bash\n(.*?)```", re.DOTALL)


def programs(page: str) -> list[str]:
    """The bash blocks of a page that run a Python program (``python - <<'EOF'``)."""
    return [b for b in BASH.findall((ROOT / "docs" / page).read_text()) if "python - <<'EOF'" in b]


def test_other_engines_has_the_pyiceberg_cli_example() -> None:
    assert len(programs("other-engines.md")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("block", programs("other-engines.md"), ids=["pyiceberg-cli"])
def test_other_engines_shell_examples_run(block: str) -> None:
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'plugins'}",
    )
    result = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "events" in result.stdout  # `list db` names the table
    assert "n" in result.stdout and "long" in result.stdout  # `describe` shows its schema
