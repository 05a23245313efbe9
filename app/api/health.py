"""GET /api/health: answers quickly even when the database is down."""
from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep

router = APIRouter()

try:
    VERSION = version('parsegram')
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = '0.1.0'


@router.get('/health')
async def health(services: ServicesDep) -> JSONResponse:
    failed_before = services.database.last_error is not None
    db_ok = await services.database.ping(timeout=1.5)
    if db_ok:
        db_state = 'ok'
    elif not failed_before and not services.started:
        db_state = 'starting'
    else:
        db_state = 'down'
    connected, total = 0, 0
    if services.accounts is not None:
        connected, total = services.accounts.counts()
    elif db_ok:
        try:
            total = await asyncio.wait_for(services.repos.accounts.collection.count_documents({}), 0.4)
        except Exception:
            total = 0
    body = {
        'status': 'ok' if db_ok else 'degraded',
        'db': db_state,
        'accounts': {'connected': connected, 'total': total},
        'version': VERSION,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)
