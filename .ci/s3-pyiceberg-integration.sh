#!/usr/bin/env bash
# pyiceberg's own integration tests (0.12.0 sdist from PyPI, never copied into this repository)
# against `memcatalog serve --port 8181 --s3-port 9000 --access-key admin --secret-key password`,
# in place of the docker stack they expect (a Java REST fixture and MinIO). Tests that need
# Spark or Hive are deselected and counted (tests/s3/suite/memcatalog_s3_suite.py); the result
# (passed / failed / needs Spark or Hive) is written to $CACHE/report.json and printed. Exits non-zero
# on any failure not listed in tests/s3/suite/expected-failures.txt, or a listed one that passes now.
# See docs/serve.md. Run from the repository root inside the activated virtualenv.
set -euo pipefail

VERSION=0.12.0
CACHE=.cache/s3-pyiceberg-integration
ROOT="$PWD"
mkdir -p "$CACHE"
python -m pip install --quiet 'pytest-lazy-fixtures>=1.1' fastavro pytest-mock pytz
SDIST="$CACHE/pyiceberg-$VERSION.tar.gz"
if [ ! -f "$SDIST" ] && [ -f ".cache/pyiceberg-suite/pyiceberg-$VERSION.tar.gz" ]; then
    cp ".cache/pyiceberg-suite/pyiceberg-$VERSION.tar.gz" "$SDIST"  # fetched already by .ci/pyiceberg-suite.sh
fi
if [ ! -f "$SDIST" ]; then
    python -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation "pyiceberg==$VERSION" -d "$CACHE"
fi
TREE="$CACHE/pyiceberg-$VERSION"
rm -rf "$TREE"
tar -xzf "$SDIST" -C "$CACHE" "pyiceberg-$VERSION/tests" "pyiceberg-$VERSION/pyproject.toml"

# The suite's DuckDB tests run `INSTALL iceberg`: offline, the binaries from the pip packages are
# put where DuckDB looks first (a HOME of this run's own).
HOME_DIR="$ROOT/$CACHE/home"
python - "$HOME_DIR" <<'PY'
import importlib, pathlib, shutil, sys
import duckdb
target = pathlib.Path(sys.argv[1]) / ".duckdb" / "extensions" / f"v{duckdb.__version__}" / "linux_amd64"
target.mkdir(parents=True, exist_ok=True)
for name in ("avro", "httpfs", "iceberg"):
    root = pathlib.Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
    shutil.copy(sorted(root.rglob(f"{name}.duckdb_extension"))[0], target)
PY

LOG="$ROOT/$CACHE/serve.log"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" python -m memcatalog serve --port 8181 --s3-port 9000 \
    --access-key admin --secret-key password --name warehouse --quota 8GiB >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q '^serving;' "$LOG" 2>/dev/null && break
    sleep 0.2
done
grep -q '^serving;' "$LOG" || { cat "$LOG" >&2; exit 1; }
# pyiceberg's docker provisioning creates the `default` namespace (and, with Spark, tables).
python -c "from pyiceberg.catalog.rest import RestCatalog; RestCatalog('p', uri='http://127.0.0.1:8181').create_namespace_if_not_exists('default')"

REPORT="$ROOT/$CACHE/report.json"
RESULTS="$ROOT/$CACHE/results.xml"
status=0
(cd "$TREE" && HOME="$HOME_DIR" MEMCATALOG_S3_SUITE_REPORT="$REPORT" PYTHONPATH="$ROOT/tests/s3/suite" \
    python -m pytest -q -p no:cacheprovider -p memcatalog_s3_suite --tb=line -m integration \
    --junitxml="$RESULTS" -o junit_family=xunit1 "${@:-tests/integration}") || status=$?
kill -TERM $SERVER
wait $SERVER || { echo "memcatalog serve did not exit cleanly" >&2; status=1; }
trap - EXIT
python -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: v for k, v in r.items() if k != 'failures'})" "$REPORT"
if [ "$status" -gt 1 ]; then
    echo "pytest could not run pyiceberg's integration tests (exit $status)" >&2
    exit "$status"
fi
if [ "$#" -eq 0 ]; then  # the whole suite: every failure must be an expected one
    python tests/conformance/compare.py "$RESULTS" tests/s3/suite/expected-failures.txt
fi
