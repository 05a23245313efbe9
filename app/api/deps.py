"""Request dependencies: the services object and the bearer-token check."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from loguru import logger

from app.api.errors import ApiError
from app.services import Services

TOKEN_CHECK_TIMEOUT = 3.0


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

UNAUTHORIZED = {'WWW-Authenticate': 'Bearer'}


async def require_token(request: Request, services: ServicesDep) -> None:
    header = request.headers.get('authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise ApiError(401, 'UNAUTHORIZED', 'Send Authorization: Bearer <token>. Tokens are made on the '
                       'dashboard Settings page or set with API_TOKEN.', UNAUTHORIZED)
    try:
        valid = await asyncio.wait_for(services.api_tokens.verify(token.strip()), TOKEN_CHECK_TIMEOUT)
    except Exception as error:
        logger.warning('API token check failed ({})', type(error).__name__)
        raise ApiError(503, 'DB_UNAVAILABLE', 'The database is not reachable, so the token cannot be checked.',
                       {'Retry-After': '5'}) from None
    if not valid:
        raise ApiError(401, 'UNAUTHORIZED', 'The token is not valid or has been revoked.', UNAUTHORIZED)


TokenDep = Depends(require_token)
