#!/usr/bin/env bash
# pyiceberg's own catalog tests (0.12.0 sdist from PyPI, never copied into this repository)
# against MemCatalog, through the fixture overlay in tests/conformance/. Exits non-zero on any
# failure not listed in tests/conformance/expected-failures-$MODE.txt (see docs/conformance.md).
#
#   MEMCATALOG_CONFORMANCE_MODE      name of the expected-failures list (default: memcat)
#   MEMCATALOG_CONFORMANCE_CATALOGS  catalog fixtures to run (default: memcat,memcat_file)
#   MEMCATALOG_CONFORMANCE_FACTORY   package.module:function or file.py:function for the "custom" catalog,
#                                    or param=spec,param=spec for several (.ci/pyiceberg-suite-rest.sh)
#   MEMCATALOG_CONFORMANCE_TESTS     test files, relative to the sdist (default: both files below)
#   MEMCATALOG_CONFORMANCE_MARK      pytest -m expression (e.g. integration), MEMCATALOG_CONFORMANCE_SELECT a -k one
#
# Run from the repository root inside the activated virtualenv.
set -euo pipefail

VERSION=0.12.0
CACHE=.cache/pyiceberg-suite
MODE="${MEMCATALOG_CONFORMANCE_MODE:-memcat}"
TESTS="${MEMCATALOG_CONFORMANCE_TESTS:-tests/catalog/test_catalog_behaviors.py tests/catalog/test_sql.py}"
EXPECTED="$PWD/tests/conformance/expected-failures-$MODE.txt"
mkdir -p "$CACHE"

# The sdist's build requirements first: without them pip builds its metadata in an isolated env for minutes.
python -m pip install --quiet 'setuptools>=83' wheel 'Cython>=3' 'pytest-lazy-fixtures>=1.1'
SDIST="$CACHE/pyiceberg-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
    python -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation "pyiceberg==$VERSION" -d "$CACHE"
fi

# Only its tests and pytest configuration: pyiceberg itself is the installed one.
TREE="$CACHE/pyiceberg-$VERSION"
rm -rf "$TREE"
tar -xzf "$SDIST" -C "$CACHE" "pyiceberg-$VERSION/tests" "pyiceberg-$VERSION/pyproject.toml"
cp tests/conformance/pyiceberg_overlay.py "$TREE/tests/catalog/conftest.py"
cp tests/conformance/pyiceberg_integration_overlay.py "$TREE/tests/integration/conftest.py"

# A factory given as a file relative to the repository root still loads from inside the sdist.
export MEMCATALOG_CONFORMANCE_ROOT="$PWD"

SELECTION=()
if [ -n "${MEMCATALOG_CONFORMANCE_MARK:-}" ]; then SELECTION+=(-m "$MEMCATALOG_CONFORMANCE_MARK"); fi
if [ -n "${MEMCATALOG_CONFORMANCE_SELECT:-}" ]; then SELECTION+=(-k "$MEMCATALOG_CONFORMANCE_SELECT"); fi

RESULTS="$PWD/$CACHE/results-$MODE.xml"
status=0
# shellcheck disable=SC2086  # $TESTS is a list of files
(cd "$TREE" && PYTHONPATH="$OLDPWD${PYTHONPATH:+:$PYTHONPATH}" python -m pytest -q -p no:cacheprovider \
    --tb=line --junitxml="$RESULTS" -o junit_family=xunit1 ${SELECTION[@]+"${SELECTION[@]}"} $TESTS) || status=$?
if [ "$status" -gt 1 ]; then
    echo "pytest could not run pyiceberg's suite (exit $status)" >&2
    exit "$status"
fi
python tests/conformance/compare.py "$RESULTS" "$EXPECTED"
