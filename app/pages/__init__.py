"""Dashboard pages. Every page but /login needs the admin session (NiceGUI's user storage)."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from starlette.middleware.base import BaseHTTPMiddleware

if TYPE_CHECKING:
    from app.root import Root

PUBLIC_PATHS = {'/login', '/logout', '/docs', '/redoc', '/openapi.json', '/favicon.ico'}
PUBLIC_PREFIXES = ('/_nicegui', '/api/', '/docs/')
PAGE_MODULES = ('login', 'channels', 'search', 'accounts', 'channel_detail', 'settings', 'media_files', 'alerts',
                'notifications', 'webhooks')


class AuthMiddleware(BaseHTTPMiddleware):
    """Send every page request without the admin session to /login (the API checks its own tokens)."""

    async def dispatch(self, request: Request, call_next):
        path = request.url.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await call_next(request)
        if not app.storage.user.get('authenticated', False):
            target = path + (f'?{request.url.query}' if request.url.query else '')
            return RedirectResponse(f'/login?redirect_to={quote(target)}' if path != '/' else '/login')
        return await call_next(request)


def _page_module(name: str):
    module_name = f'app.pages.{name}'
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


def register_pages(root: Root) -> None:
    from app.pages.errors import install_page_errors

    app.add_middleware(AuthMiddleware)
    install_page_errors(app)

    @ui.page('/')
    def index() -> RedirectResponse:
        return RedirectResponse('/dashboard/channels')

    for name in PAGE_MODULES:
        module = _page_module(name)
        if module is not None and hasattr(module, 'register'):
            module.register(root)
