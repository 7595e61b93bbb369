"""``/metrics``: the server's Prometheus metrics (HTTP and MCP calls).

Behind a bearer token like the API, unless ``INTENT_METRICS_PUBLIC`` opens it for a
scraper on a private network. The worker's metrics are on its own port.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import AppDep, get_principal
from observability.metrics import server_metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, app: AppDep) -> Response:
    if not app.settings.metrics_public:
        await get_principal(request, app)  # 401 with the usual challenge when anonymous
    return Response(generate_latest(server_metrics().registry), media_type=CONTENT_TYPE_LATEST)
