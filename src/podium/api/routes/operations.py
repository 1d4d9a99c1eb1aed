"""Operations: liveness, readiness, status and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from podium.api.deps import Operator, OperatorOrAnyone, ServicesDep
from podium.api.errors import ERROR_RESPONSES
from podium.api.metrics import render_metrics
from podium.storage import queries
from podium.storage.migrate import head_revision
from podium.version import __version__

router = APIRouter(tags=["operations"])
# The routes that take a credential: a bad one is 401, a tenant's 403, too many 429.
CREDENTIAL_ERRORS: dict[int | str, dict[str, Any]] = {
    status: ERROR_RESPONSES[status] for status in (401, 403, 429)
}


@router.get("/health")
async def health(services: ServicesDep) -> dict[str, Any]:
    """The server is up (it answers)."""
    return {"status": "ok", "version": __version__, "database": services.podium.store.dialect}


@router.get("/ready", responses={503: {"description": "not ready; `checks` says why"}})
async def ready(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the database answers, its schema is current, the workers run."""
    checks: dict[str, Any] = {}
    store = services.podium.store
    try:
        revision = await store.run_read(queries.schema_revision)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if revision == head_revision() else f"at {revision}"
    except Exception as exc:  # any failure to answer is "not ready"
        checks["database"] = f"error: {exc}"
        checks["migrations"] = "unknown"
    worker = services.podium.worker
    if worker.concurrency == 0:
        checks["workers"] = "none in this process (--workers 0)"
    else:
        checks["workers"] = "ok" if services.podium.workers_running else "stopped"
    ok = checks["database"] == "ok" and checks["migrations"] == "ok"
    ok = ok and checks["workers"] != "stopped"
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/status", responses=CREDENTIAL_ERRORS)
async def status(services: ServicesDep, operator: OperatorOrAnyone) -> dict[str, Any]:
    """Version and mode; for platform admins and the scrape token (PODIUM_METRICS_TOKEN) also
    the open sockets and the counts of apps, users, sessions and runs by status."""
    podium = services.podium
    answer: dict[str, Any] = {
        "version": __version__,
        "mode": "embedded" if podium.worker.concurrency else "api-only",
        "database": podium.store.dialect,
        "workers": podium.worker.concurrency,
    }
    if operator:
        answer["open_sockets"] = services.sockets.open
        answer["counts"] = await podium.store.run_read(queries.counts)
    return answer


@router.get("/metrics", response_class=Response, responses=CREDENTIAL_ERRORS)
async def metrics(services: ServicesDep, _: Operator) -> Response:
    """Prometheus metrics: runs by status, step durations, queue depth, open sockets (platform
    admins, or a scraper with `Authorization: Bearer <PODIUM_METRICS_TOKEN>`)."""
    body, content_type = await render_metrics(services)
    return Response(body, media_type=content_type)


@router.get("/node-types", tags=["flows"])
async def node_types(services: ServicesDep) -> list[dict[str, Any]]:
    """Every node type: its config schema, ports and output schema."""
    return services.podium.registry.catalogue()
