"""The JSON API under /api: every router but health needs a bearer token."""
from __future__ import annotations

import importlib

from fastapi import Depends, FastAPI

from app.root import Root

OPTIONAL_ROUTERS = ('accounts', 'channels', 'jobs', 'archive', 'search', 'media', 'webhooks', 'alerts')
ROUTER_ERRORS = {'tokens': (404,), 'accounts': (404, 409, 429, 502), 'channels': (403, 404, 409, 429, 502),
                 'jobs': (404, 409), 'archive': (404, 409), 'search': (503,),
                 'media': (404, 409, 410, 416, 429, 502), 'webhooks': (404, 409, 410),
                 'alerts': (404, 409)}


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
    from app.api import health
    from app.api.deps import require_token
    from app.api.errors import COMMON_ERRORS, error_responses, install_error_handlers
    from app.api.health import VERSION
    from app.api.openapi import install_openapi

    app.state.root = root
    install_error_handlers(app)
    install_openapi(app, version=VERSION)
    # Our routers have no lifespan of their own, but each include_router wraps the app's lifespan in one more
    # merged context; registered again and again (every test of the app), the nesting ends in a RecursionError.
    lifespan = app.router.lifespan_context
    app.include_router(health.router, prefix='/api', tags=['health'], responses=error_responses(500))
    protected = [Depends(require_token)]
    for name in ('tokens', *OPTIONAL_ROUTERS):
        router = _optional_router(name)
        if router is not None:
            app.include_router(router, prefix='/api', dependencies=protected, tags=[name],
                               responses=error_responses(*COMMON_ERRORS, *ROUTER_ERRORS[name]))
    app.router.lifespan_context = lifespan
