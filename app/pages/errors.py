"""The dashboard's own 404 and error pages: in its frame and the person's language, with a way back."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from nicegui import Client, ui
from nicegui.page import page
from starlette.responses import Response

from app.i18n import _
from app.pages.layout import frame

NOT_PAGES = ('/api/', '/_nicegui', '/docs', '/redoc', '/openapi.json')


def is_page_request(request: Request) -> bool:
    """A browser asking for a dashboard page: no route matched, or a page's did; not the API, NiceGUI's resources,
    the API docs or a download route that answered 404 itself."""
    if request.method not in ('GET', 'HEAD') or request.url.path.startswith(NOT_PAGES):
        return False
    endpoint = request.scope.get('endpoint')
    return endpoint is None or getattr(endpoint, '__wrapped__', endpoint) in Client.page_routes


def not_found_content(path: str) -> None:
    with frame(_('Page not found')):
        with ui.card().classes('w-full items-center text-center p-8 gap-3').props('flat bordered') \
                .mark('not-found'):
            ui.icon('travel_explore', color='grey-6').classes('text-6xl')
            ui.label(_('There is no page at {path}.', path=path[:200])).classes('text-lg pg-break')
            ui.label(_('The link may be mistyped, or the channel was deleted.')).classes('text-grey-7')
            ui.button(_('Back to channels'), icon='arrow_back',
                      on_click=lambda: ui.navigate.to('/dashboard/channels')).mark('back-home')


def error_content(_error: Exception | None = None) -> None:
    """NiceGUI calls this when a page raised while it was built; the error itself is in the server log."""
    with frame(_('Something went wrong')):
        with ui.card().classes('w-full items-center text-center p-8 gap-3').props('flat bordered') \
                .mark('page-error'):
            ui.icon('error_outline', color='negative').classes('text-6xl')
            ui.label(_('This page could not be shown because of an error on the server.')).classes('text-lg')
            ui.label(_('Reload the page; if it keeps happening, the server log says what went wrong.')) \
                .classes('text-grey-7')
            with ui.row().classes('gap-2 justify-center'):
                ui.button(_('Reload'), icon='refresh', on_click=ui.navigate.reload).mark('reload-page')
                ui.button(_('Back to channels'), icon='arrow_back',
                          on_click=lambda: ui.navigate.to('/dashboard/channels')).props('flat')


def not_found_response(request: Request) -> Response:
    with Client(page(''), request=request) as client:
        not_found_content(request.url.path)
    return client.build_response(request, 404)


def install_page_errors(app: FastAPI) -> None:
    """Unknown dashboard paths, and page paths with a malformed part (/dashboard/channels/abc), get the dashboard's
    404 page; the API keeps its JSON errors. A page that fails while it is built gets the error page."""
    app.on_page_exception(error_content)  # type: ignore[attr-defined]
    for key in (404, RequestValidationError):
        previous = app.exception_handlers.get(key)
        previous = getattr(previous, 'page_wrapped', previous)  # the app object outlives re-registration in tests

        async def handler(request: Request, error: Exception, _previous: Any = previous) -> Any:
            if is_page_request(request) or _previous is None:
                return not_found_response(request)
            return await _previous(request, error)

        handler.page_wrapped = previous  # type: ignore[attr-defined]
        app.add_exception_handler(key, handler)
