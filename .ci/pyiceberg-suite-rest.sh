#!/usr/bin/env bash
# pyiceberg's own catalog tests through pyiceberg's RestCatalog pointed at memcatalog's REST server
# (memcatalog.rest.serve on 127.0.0.1, port 0, one server per test; the RestCatalog gets only `uri`):
#
# 1. tests/catalog/test_catalog_behaviors.py with two catalog parameters: `rest` (tables in a memcat://
#    pool) and `rest_file` (a file:// warehouse, for the tests that look at the files with os.path.exists);
#    allowed failures: tests/conformance/expected-failures-rest.txt.
# 2. tests/integration/test_catalog.py, the tests parametrized with its `rest_catalog` fixture (in
#    pyiceberg's CI a Java REST fixture in docker on localhost:8181; here a served MemCatalog, through
#    tests/conformance/pyiceberg_integration_overlay.py); allowed failures:
#    tests/conformance/expected-failures-rest-integration.txt.
#
# test_sql.py is about SqlCatalog itself (its constructor, registry tables, migrations) and does not
# apply to a REST client. See docs/conformance.md. Run from the repository root inside the activated
# virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the REST client and server need beyond pyiceberg: the project's own `test` extra (the serve
# extra, httpx; thrift, which the integration test_catalog.py imports for HiveCatalog).
python -m pip install --quiet -e ".[test]"

status=0
MEMCATALOG_CONFORMANCE_FACTORY="rest=tests/conformance/rest_factory.py:catalog,rest_file=tests/conformance/rest_factory.py:file_catalog" \
    MEMCATALOG_CONFORMANCE_CATALOGS="rest,rest_file" \
    MEMCATALOG_CONFORMANCE_MODE=rest \
    MEMCATALOG_CONFORMANCE_TESTS=tests/catalog/test_catalog_behaviors.py \
    bash .ci/pyiceberg-suite.sh || status=$?

MEMCATALOG_CONFORMANCE_MODE=rest-integration \
    MEMCATALOG_CONFORMANCE_TESTS=tests/integration/test_catalog.py \
    MEMCATALOG_CONFORMANCE_MARK=integration \
    MEMCATALOG_CONFORMANCE_SELECT="rest_catalog and not rest_test_catalog" \
    bash .ci/pyiceberg-suite.sh || status=$?

exit "$status"
