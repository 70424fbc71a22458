"""The route table: every operation this server implements, by the spec's operationId.

Like Iceberg Java's ``RESTCatalogAdapter.Route``: method, path, request model and
one thin handler. ``/v1/config`` advertises exactly these (``endpoints``), and
clients call nothing else. Order matters only where a HEAD and a GET share a
path: the HEAD route comes first (starlette answers HEAD with a GET route too).
"""

from __future__ import annotations

from memcatalog.rest import models, namespaces, planning, service, tables, views
from memcatalog.rest.call import Route

NS = "/namespaces/{namespace}"
TABLE = NS + "/tables/{table}"
VIEW = NS + "/views/{view}"

ROUTES: tuple[Route, ...] = (
    Route("getConfig", "GET", "/config", service.get_config, prefixed=False),
    Route("getToken", "POST", "/oauth/tokens", service.get_token, prefixed=False, form=True),
    Route("listNamespaces", "GET", "/namespaces", namespaces.list_namespaces),
    Route("createNamespace", "POST", "/namespaces", namespaces.create_namespace, models.CreateNamespaceBody),
    Route("namespaceExists", "HEAD", NS, namespaces.namespace_exists),
    Route("loadNamespaceMetadata", "GET", NS, namespaces.load_namespace),
    Route("dropNamespace", "DELETE", NS, namespaces.drop_namespace),
    Route(
        "updateProperties",
        "POST",
        NS + "/properties",
        namespaces.update_properties,
        models.UpdateNamespacePropertiesBody,
    ),
    Route("listTables", "GET", NS + "/tables", tables.list_tables),
    Route("createTable", "POST", NS + "/tables", tables.create_table, models.CreateTableBody),
    Route("registerTable", "POST", NS + "/register", tables.register_table, models.RegisterBody),
    Route("tableExists", "HEAD", TABLE, tables.table_exists),
    Route("loadTable", "GET", TABLE, tables.load_table),
    Route("updateTable", "POST", TABLE, tables.update_table, models.CommitTableBody, commit=True),
    Route("dropTable", "DELETE", TABLE, tables.drop_table),
    Route("unregisterTable", "POST", TABLE + "/unregister", tables.unregister_table),
    Route("loadCredentials", "GET", TABLE + "/credentials", tables.load_credentials),
    Route("renameTable", "POST", "/tables/rename", tables.rename_table, models.RenameBody),
    Route("reportMetrics", "POST", TABLE + "/metrics", service.report_metrics),
    Route(
        "commitTransaction",
        "POST",
        "/transactions/commit",
        tables.commit_transaction,
        models.CommitTransactionBody,
        commit=True,
    ),
    Route("planTableScan", "POST", TABLE + "/plan", planning.plan_table_scan, planning.PlanBody),
    Route("fetchPlanningResult", "GET", TABLE + "/plan/{plan_id}", planning.fetch_planning_result),
    Route("cancelPlanning", "DELETE", TABLE + "/plan/{plan_id}", planning.cancel_planning),
    Route("fetchScanTasks", "POST", TABLE + "/tasks", planning.fetch_scan_tasks, planning.FetchTasksBody),
    Route("listViews", "GET", NS + "/views", views.list_views),
    Route("createView", "POST", NS + "/views", views.create_view, models.CreateViewBody),
    Route("viewExists", "HEAD", VIEW, views.view_exists),
    Route("loadView", "GET", VIEW, views.load_view),
    Route("replaceView", "POST", VIEW, views.replace_view, models.CommitViewBody, commit=True),
    Route("dropView", "DELETE", VIEW, views.drop_view),
    Route("renameView", "POST", "/views/rename", views.rename_view, models.RenameBody),
    Route("registerView", "POST", NS + "/register-view", views.register_view, models.RegisterViewBody),
)
