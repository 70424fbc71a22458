#!/usr/bin/env bash
# pyiceberg's own catalog behaviour suite through pyiceberg's RestCatalog pointed at memcatalog's REST
# server (memcatalog.rest.serve on 127.0.0.1, port 0, one server per test; the RestCatalog gets only
# `uri`). Two catalog parameters: `rest` (tables in a memcat:// pool) and `rest_file` (a file://
# warehouse, for the tests that look at the files with os.path.exists). Exits non-zero on any failure
# not listed in tests/conformance/expected-failures-rest.txt (see docs/conformance.md).
#
# test_sql.py is about SqlCatalog itself (its constructor, registry tables, migrations) and does not
# apply to a REST client. Run from the repository root inside the activated virtualenv.
set -euo pipefail

# What the REST client and server need beyond pyiceberg: the project's own `test` extra
# (the serve extra, httpx, thrift for pyiceberg's tests/conftest.py).
python -m pip install --quiet -e ".[test]"

export MEMCATALOG_CONFORMANCE_FACTORY="rest=tests/conformance/rest_factory.py:catalog,rest_file=tests/conformance/rest_factory.py:file_catalog"
export MEMCATALOG_CONFORMANCE_CATALOGS="rest,rest_file"
export MEMCATALOG_CONFORMANCE_MODE=rest
export MEMCATALOG_CONFORMANCE_TESTS=tests/catalog/test_catalog_behaviors.py
bash "$(dirname "$0")/pyiceberg-suite.sh"
