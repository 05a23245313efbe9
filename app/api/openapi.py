"""The OpenAPI description as the API behaves: validation errors are 400s in the error shape, not FastAPI's 422."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.errors import ERROR_MEANINGS


def _described(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)  # the class's own, so registering twice (tests) never wraps a wrapper
    for operations in schema.get('paths', {}).values():
        for operation in operations.values():
            responses = operation.get('responses', {})
            if responses.pop('422', None) is not None and '400' not in responses:
                responses['400'] = {'description': ERROR_MEANINGS[400], 'content': {'application/json': {
                    'schema': {'$ref': '#/components/schemas/ErrorBody'}}}}
    components = schema.get('components', {}).get('schemas', {})
    for unused in ('HTTPValidationError', 'ValidationError'):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def install_openapi(app: FastAPI, *, version: str) -> None:
    app.title, app.version = 'Parsegram API', version
    app.description = ('Parse Telegram channels: accounts, channels, posts, exports and jobs. Every route but '
                       '/api/health needs `Authorization: Bearer <token>`; every error answers '
                       '`{"error": {"code", "message"}}`.')
    app.openapi_schema = None
    app.openapi = lambda: _described(app)  # type: ignore[method-assign]
