"""Running a client in another process that cannot import memcatalog (it is not on that process's path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

PRELUDE = """
import json, sys
def done(result):
    assert "memcatalog" not in sys.modules, "the outside process imported memcatalog"
    print("RESULT " + json.dumps(result, default=str))
"""

DUCKDB_PRELUDE = """
import importlib, pathlib, duckdb
def load(con, name):
    # The extension binaries ship in pip packages (duckdb-extension-<name>): nothing downloads.
    root = pathlib.Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
    con.execute(f"LOAD '{sorted(root.rglob(name + '.duckdb_extension'))[0]}'")
def connect():
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for name in ("avro", "httpfs", "iceberg"):
        load(con, name)
    return con
"""


def run_outside(code: str, cwd: Path, *, duckdb: bool = False, timeout: float = 120, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter without memcatalog on its path; returns what it passed to ``done()``."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    clean.update(env)
    clean["HOME"] = str(cwd)  # no ~/.pyiceberg.yaml or ~/.aws of the user's
    clean["AWS_CONFIG_FILE"] = clean["AWS_SHARED_CREDENTIALS_FILE"] = str(cwd / "none")
    source = PRELUDE + (DUCKDB_PRELUDE if duckdb else "") + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", source], cwd=cwd, env=clean, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"outside process failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])
