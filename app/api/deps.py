"""Request dependencies: the composition root (ready or not) and the bearer-token check."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from loguru import logger

from app.api.errors import ApiError
from app.i18n import lazy
from app.root import Root

TOKEN_CHECK_TIMEOUT = 3.0


def get_root(request: Request) -> Root:
    return request.app.state.root


RootDep = Annotated[Root, Depends(get_root)]


def get_ready_root(request: Request) -> Root:
    """The root once the database answers and every component has started; NotReady (503) before."""
    root: Root = request.app.state.root
    root.require_ready()
    return root


ReadyRootDep = Annotated[Root, Depends(get_ready_root)]

UNAUTHORIZED = {'WWW-Authenticate': 'Bearer'}


async def require_token(request: Request, root: RootDep) -> None:
    header = request.headers.get('authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise ApiError(401, 'UNAUTHORIZED', lazy('Send Authorization: Bearer <token>. Tokens are made on the '
                                                 'dashboard Settings page or set with API_TOKEN.'), UNAUTHORIZED)
    try:
        holder = await asyncio.wait_for(root.api_tokens.holder(token.strip()), TOKEN_CHECK_TIMEOUT)
    except Exception as error:
        logger.warning('API token check failed ({})', type(error).__name__)
        raise ApiError(503, 'DB_UNAVAILABLE', lazy('The database is not reachable, so the token cannot be checked.'),
                       {'Retry-After': '5'}) from None
    if holder is None:
        raise ApiError(401, 'UNAUTHORIZED', lazy('The token is not valid or has been revoked.'), UNAUTHORIZED)
    request.state.token_holder = holder


TokenDep = Depends(require_token)


def token_holder(request: Request) -> str:
    """Whose token the request carries (the router's token check has run first)."""
    return f'token:{request.state.token_holder}'


TokenHolderDep = Annotated[str, Depends(token_holder)]
