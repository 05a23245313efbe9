"""Request guards in front of the whole app: a body size limit, work that stops with its client, and one answer for
every unexpected error.

Pure ASGI, so a body is refused before it is parsed and a request's task can be cancelled when the client goes away
(a handler running a long database walk otherwise keeps going after nobody waits for it).
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response
from app.i18n import lazy

DEFAULT_BODY_LIMIT = 1 << 20


async def send_error(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    await error_response(status, code, message, request=Request(scope))(scope, receive, send)


class RequestGuards:
    def __init__(self, app: ASGIApp, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        too_large = lazy('The request body is larger than {limit} bytes; send less at once.',
                         limit=f'{self.body_limit:,}')
        if _content_length(scope) > self.body_limit:
            await send_error(scope, receive, send, 413, 'TOO_LARGE', too_large)
            return
        body, disconnected = await self._read_body(receive)
        if body is None:
            await send_error(scope, receive, send, 413, 'TOO_LARGE', too_large)
            return
        if disconnected:
            return
        await self._run(scope, receive, send, body)

    async def _read_body(self, receive: Receive) -> tuple[list[Message] | None, bool]:
        """The body's messages (None when over the limit) and whether the client left while sending it."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message['type'] == 'http.disconnect':
                return messages, True
            size += len(message.get('body', b''))
            if size > self.body_limit:
                return None, False
            messages.append(message)
            if not message.get('more_body', False):
                return messages, False

    async def _run(self, scope: Scope, receive: Receive, send: Send, body: list[Message]) -> None:
        buffered = list(body)
        left = asyncio.Event()
        started = complete = False

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            await left.wait()
            return {'type': 'http.disconnect'}

        async def tracking_send(message: Message) -> None:
            nonlocal started, complete
            if message['type'] == 'http.response.start':
                started = True
            elif message['type'] == 'http.response.body' and not message.get('more_body', False):
                complete = True
            await send(message)

        async def watch() -> None:
            while (await receive())['type'] != 'http.disconnect':
                pass
            left.set()

        handler = asyncio.create_task(self._handle(scope, replay, tracking_send, lambda: started))
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not handler.done() and not complete:  # the client went away: nobody waits for this work
                logger.debug('{} {}: the client went away, its work stops', scope['method'], scope['path'])
                handler.cancel()
            await asyncio.gather(handler, return_exceptions=True)
        finally:
            watcher.cancel()
            handler.cancel()

    async def _handle(self, scope: Scope, receive: Receive, send: Send, response_started: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            if response_started():  # Starlette's error middleware answered with `internal_error` and re-raised
                return
            error_id = log_unexpected(error, scope['method'], scope['path'])
            await send_error(scope, receive, send, 500, 'INTERNAL', internal_message(error_id))


def log_unexpected(error: BaseException, method: str, path: str) -> str:
    error_id = uuid.uuid4().hex[:12]
    logger.opt(exception=error).error('Unexpected error {} during {} {}', error_id, method, path)
    return error_id


def internal_message(error_id: str) -> str:
    return lazy('Something went wrong on the server (error id {id}); try again, and if it keeps happening report '
                'this id with the server log.', id=error_id)


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """Any exception no other handler took: 500 in the error shape, with an id that is also in the log."""
    error_id = log_unexpected(error, request.method, request.url.path)
    return error_response(500, 'INTERNAL', internal_message(error_id), request=request)


def install_request_guards(app: FastAPI, *, body_limit: int) -> None:
    """Put RequestGuards around the whole app, outside even Starlette's error middleware and every middleware
    NiceGUI adds in ui.run (add_middleware cannot place it there): a request whose client left is stopped before
    any `BaseHTTPMiddleware` could complain that it got no response, and a body is refused before it is read."""
    app.build_middleware_stack = lambda: RequestGuards(  # type: ignore[method-assign]
        type(app).build_middleware_stack(app), body_limit=body_limit)  # the class's own: never wraps a wrapper
    app.middleware_stack = None
    app.add_exception_handler(Exception, internal_error)


def _content_length(scope: Scope) -> int:
    for name, value in scope.get('headers', ()):
        if name == b'content-length':
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
