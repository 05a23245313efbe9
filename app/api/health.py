"""GET /api/health: readiness that tells the truth, answered quickly even when the database is down."""
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
    """Whether Parsegram would serve a request now.

    `starting` (503) until the database answers and every service has started; `ok` (200) only when the API would
    serve a request; `degraded` (503) when the database is lost after start-up or never answered.
    """
    status: Literal['starting', 'ok', 'degraded']
    db: Literal['ok', 'starting', 'down']
    accounts: AccountCounts
    version: str


def overall_status(db_ok: bool, db_state: str, started: bool) -> Literal['starting', 'ok', 'degraded']:
    if db_ok and started:
        return 'ok'
    if db_state == 'down':
        return 'degraded'
    return 'starting'


@router.get('/health', response_model=Health,
            responses={503: {'model': Health, 'description': 'Still starting, or the database is not reachable.'}})
async def health(root: RootDep) -> JSONResponse:
    db_ok = await root.database.ping(timeout=1.5)
    if db_ok:
        db_state = 'ok'
    elif root.started or root.database.failed_attempts:
        db_state = 'down'
    else:  # a slow answer while the database is still being started is not a lost database
        db_state = 'starting'
    status = overall_status(db_ok, db_state, root.started)
    connected, total = root.accounts.counts()
    body = {
        'status': status,
        'db': db_state,
        'accounts': {'connected': connected, 'total': total},
        'version': VERSION,
    }
    return JSONResponse(body, status_code=200 if status == 'ok' else 503)
