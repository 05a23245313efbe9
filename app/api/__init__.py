"""The JSON API under /api: every router but health needs a bearer token."""
from __future__ import annotations

import importlib

from fastapi import Depends, FastAPI

from app.root import Root

OPTIONAL_ROUTERS = ('accounts', 'channels', 'jobs')


def _optional_router(name: str):
    module_name = f'app.api.{name}'
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise
    return getattr(module, 'router', None)


def register_api(app: FastAPI, root: Root) -> None:
    from app.api import health, tokens
    from app.api.deps import require_token
    from app.api.errors import install_error_handlers

    app.state.root = root
    install_error_handlers(app)
    app.include_router(health.router, prefix='/api', tags=['health'])
    protected = [Depends(require_token)]
    app.include_router(tokens.router, prefix='/api', dependencies=protected, tags=['tokens'])
    for name in OPTIONAL_ROUTERS:
        router = _optional_router(name)
        if router is not None:
            app.include_router(router, prefix='/api', dependencies=protected, tags=[name])
