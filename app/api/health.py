"""GET /api/health: answers quickly even when the database is down."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.deps import RootDep

router = APIRouter()

try:
    VERSION = version('parsegram')
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = '0.1.0'


class AccountCounts(BaseModel):
    connected: int
    total: int


class Health(BaseModel):
    """Whether Parsegram can work: `ok` with the database reachable, `degraded` (503) without it."""
    status: Literal['ok', 'degraded']
    db: Literal['ok', 'starting', 'down']
    accounts: AccountCounts
    version: str


@router.get('/health', response_model=Health,
            responses={503: {'model': Health, 'description': 'The database is not reachable (or not yet).'}})
async def health(root: RootDep) -> JSONResponse:
    failed_before = root.database.last_error is not None
    db_ok = await root.database.ping(timeout=1.5)
    if db_ok:
        db_state = 'ok'
    elif not failed_before and not root.started:
        db_state = 'starting'
    else:
        db_state = 'down'
    connected, total = root.accounts.counts()
    body = {
        'status': 'ok' if db_ok else 'degraded',
        'db': db_state,
        'accounts': {'connected': connected, 'total': total},
        'version': VERSION,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)
