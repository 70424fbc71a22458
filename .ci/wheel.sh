#!/usr/bin/env bash
# Build the wheel, install it (not the source tree) into a fresh venv, and run every
# command from there: a module left out of the wheel fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . 2>&1 | { grep -v 'is ignored' || true; }
wheel=$(ls "$work"/dist/memcatalog-*.whl)
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "${wheel}[duckdb,serve,bench,shell]" pytest 2>&1 | { grep -v 'is ignored' || true; }

cd "$work"  # away from the source tree: only the installed wheel can be imported
bin="$work/venv/bin"
"$bin/python" - <<'PY'
import importlib, pkgutil, memcatalog, pytest_memcatalog
assert "site-packages" in memcatalog.__file__, memcatalog.__file__
for mod in pkgutil.walk_packages(memcatalog.__path__, "memcatalog."):
    if not mod.name.endswith("__main__"):  # running it is checked below
        importlib.import_module(mod.name)
for name in memcatalog.__all__:
    getattr(memcatalog, name)
print("wheel: every module imports and every public name resolves")
PY
"$bin/memcatalog" --help >/dev/null
for cmd in $("$bin/python" -c "from memcatalog.cli import main; print(' '.join(sorted(main.commands)))"); do
    "$bin/memcatalog" "$cmd" --help >/dev/null
    echo "wheel: memcatalog $cmd --help ok"
done
"$bin/python" -m memcatalog --version
"$bin/memcatalog" demo --scale 0.01 >/dev/null
"$bin/memcatalog" shell -c "SELECT 42" | grep -q 42
"$bin/memcatalog" stress --threads 2 --operations 5 --no-duckdb >/dev/null
echo "wheel: demo, shell and stress ran from the installed wheel"
"$bin/memcatalog" serve --port 0 --s3-port 0 >serve.log 2>&1 &  # REST and S3 until SIGTERM
pid=$!
for _ in $(seq 1 100); do grep -q "^serving;" serve.log && break; sleep 0.2; done
kill -TERM "$pid"; wait "$pid"; grep -q "stopping (SIGTERM)" serve.log
echo "wheel: memcatalog serve started and stopped on SIGTERM"
