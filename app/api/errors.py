"""One error format for the whole API: {"error": {"code": ..., "message": ...}} with a fitting status."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.i18n import current_language, lazy, request_language, translate_text, use_language
from app.mtproto.errors import ServiceError
from app.root import NotReady

STATUS_CODES = {400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND',
                405: 'METHOD_NOT_ALLOWED', 409: 'CONFLICT', 413: 'TOO_LARGE', 422: 'BAD_REQUEST',
                429: 'TOO_MANY_REQUESTS', 500: 'INTERNAL', 503: 'UNAVAILABLE'}


ERROR_MEANINGS = {
    400: 'The request is not valid: a field, a number out of range, a malformed body or reference.',
    401: 'No token, or a token that is not valid or was revoked.',
    403: 'Telegram refuses this account access (a private channel, a ban).',
    404: 'No such channel, job, account, folder or token.',
    409: 'The request conflicts with the current state (a login in another step, a channel already joined).',
    410: 'Telegram no longer has it, and Parsegram did not keep it in time.',
    413: 'The request body is larger than the limit (MAX_BODY_BYTES, 1 MB by default).',
    416: 'The Range header asks for bytes past the end of the file; Content-Range says its size.',
    429: 'Too many requests: wait for the seconds in Retry-After.',
    500: 'An unexpected error; its id is in the message and in the server log.',
    502: 'Telegram answered with an error it should not have; try again.',
    503: 'Parsegram is starting, or the database or Telegram is not reachable; see Retry-After.',
}
COMMON_ERRORS = (400, 401, 413, 500, 503)


class ErrorDetail(BaseModel):
    code: str = Field(description='a stable upper-case code, such as CHANNEL_NOT_FOUND or FLOOD_WAIT')
    message: str = Field(description='what happened and what to do, for people, in the language of Accept-Language '
                                     '(English or Russian); the code does not change with the language')


class ErrorBody(BaseModel):
    """Every error the API answers has this shape."""
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, each in the ErrorBody shape."""
    return {status: {'model': ErrorBody, 'description': ERROR_MEANINGS[status]} for status in sorted(set(statuses))}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


# Starlette's own details, in the catalog so that `translate_text` finds them
STANDARD_DETAILS = (lazy('Not Found'), lazy('Method Not Allowed'), lazy('Unauthorized'), lazy('Forbidden'),
                    lazy('Bad Request'))


def error_response(status: int, code: str, message: str, headers: dict | None = None, *,
                   request: Request | None = None) -> JSONResponse:
    """The error in its documented shape; `message` in the request's language (Accept-Language)."""
    with use_language(request_language(request) if request is not None else current_language()):
        text = translate_text(message)
    return JSONResponse({'error': {'code': code, 'message': text}}, status_code=status, headers=headers)


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for error in errors[:5]:
        if error.get('type') == 'json_invalid':
            return lazy('The request body is not valid JSON.')
        location = '.'.join(str(part) for part in error.get('loc', ()) if part != 'body')
        parts.append(f'{location or "body"}: {error.get("msg", "invalid")}')  # pydantic's words, in English
    return '; '.join(parts) or lazy('The request is not valid.')


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.headers, request=request)


async def _service_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    headers = {'Retry-After': str(error.retry_after)} if error.retry_after is not None else None
    return error_response(error.status, error.code, error.message, headers, request=request)


async def _not_ready(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotReady)
    return error_response(503, error.code, error.message, {'Retry-After': '5'}, request=request)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(400, 'BAD_REQUEST', _describe_validation(list(error.errors())), request=request)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    logger.warning('Database error during {} {}: {}', request.method, request.url.path, type(error).__name__)
    return error_response(503, 'DB_UNAVAILABLE', lazy('The database is not reachable right now; try again shortly.'),
                          {'Retry-After': '5'}, request=request)


def install_error_handlers(app: FastAPI) -> None:
    """ApiError and validation errors everywhere; other HTTP errors in the JSON format under /api."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PyMongoError, _database_error)
    for status in (400, 401, 403, 404, 405, 413):
        previous = app.exception_handlers.get(status)
        previous = getattr(previous, 'wrapped', previous)  # the app object outlives re-registration in tests

        async def handler(request: Request, error: Exception, _previous: Any = previous) -> Any:
            if request.url.path.startswith('/api/') or _previous is None:
                assert isinstance(error, StarletteHTTPException)
                code = STATUS_CODES.get(error.status_code, 'ERROR')
                detail = error.detail if isinstance(error.detail, str) else code
                if error.status_code == 400 and detail == 'There was an error parsing the body':
                    detail = lazy('The request body could not be read: send JSON encoded as UTF-8.')
                return error_response(error.status_code, code, detail, getattr(error, 'headers', None),
                                      request=request)
            return await _previous(request, error)

        handler.wrapped = previous  # type: ignore[attr-defined]
        app.add_exception_handler(status, handler)
