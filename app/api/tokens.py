"""API tokens over the API itself: list, create (the token is in the answer once), revoke."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import RootDep
from app.api.errors import ApiError
from app.api.params import IdPath
from app.db.models import ApiToken
from app.i18n import lazy

router = APIRouter(prefix='/tokens')


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(**token.model_dump(include=set(cls.model_fields)))


class TokenCreated(TokenOut):
    token: str = Field(description='The token itself; shown only in this answer.')


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


@router.get('', response_model=list[TokenOut])
async def list_tokens(root: RootDep) -> list[TokenOut]:
    return [TokenOut.of(token) for token in await root.api_tokens.list()]


@router.post('', status_code=201, response_model=TokenCreated)
async def create_token(body: TokenCreate, root: RootDep) -> TokenCreated:
    record, plain = await root.api_tokens.create(name=body.name)
    return TokenCreated(**TokenOut.of(record).model_dump(), token=plain)


@router.delete('/{token_id}', response_model=TokenOut)
async def revoke_token(token_id: IdPath, root: RootDep) -> TokenOut:
    if not await root.api_tokens.revoke(token_id=token_id):
        raise ApiError(404, 'NOT_FOUND', lazy('No active token with this id.'))
    token = await root.repos.api_tokens.get(token_id=token_id)
    assert token is not None
    return TokenOut.of(token)
