"""The admin and api_tokens repositories against the real database server."""
from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from app.db.models import ApiToken
from app.db.repos import Repos


async def test_admin_hash_is_stored_once(repos: Repos) -> None:
    assert await repos.admin.get() is None
    assert await repos.admin.create_if_missing(password_hash='scrypt$first') is True
    assert await repos.admin.create_if_missing(password_hash='scrypt$second') is False
    stored = await repos.admin.get()
    assert stored is not None and stored.password_hash == 'scrypt$first'
    assert stored.created_at.tzinfo is not None
    await repos.admin.set_password_hash(password_hash='scrypt$third')
    assert (await repos.admin.get()).password_hash == 'scrypt$third'


async def test_token_lookup_revocation_and_listing(repos: Repos) -> None:
    first = await repos.api_tokens.create(token=ApiToken(id='t1', name='cron', token_hash='a' * 64, prefix='pgt_aaaa'))
    await repos.api_tokens.create(token=ApiToken(id='t2', name='other', token_hash='b' * 64, prefix='pgt_bbbb'))
    found = await repos.api_tokens.find_active(token_hash='a' * 64)
    assert found is not None and found.id == first.id and found.name == 'cron'
    assert await repos.api_tokens.find_active(token_hash='c' * 64) is None

    assert await repos.api_tokens.revoke(token_id='t1') is True
    assert await repos.api_tokens.revoke(token_id='t1') is False
    assert await repos.api_tokens.find_active(token_hash='a' * 64) is None
    assert [t.id for t in await repos.api_tokens.list(include_revoked=False)] == ['t2']
    listed = {t.id: t for t in await repos.api_tokens.list()}
    assert listed['t1'].revoked_at is not None and listed['t1'].revoked_at.tzinfo is not None

    await repos.api_tokens.touch(token_id='t2')
    assert (await repos.api_tokens.get(token_id='t2')).last_used_at is not None


async def test_token_hash_is_unique(repos: Repos) -> None:
    await repos.api_tokens.create(token=ApiToken(id='x1', name='one', token_hash='d' * 64, prefix='pgt_dddd'))
    with pytest.raises(DuplicateKeyError):
        await repos.api_tokens.create(token=ApiToken(id='x2', name='two', token_hash='d' * 64, prefix='pgt_dddd'))


async def test_all_indexes_can_be_created_twice(repos: Repos) -> None:
    await repos.ensure_indexes()  # startup runs this on every start; it must be idempotent
    names = [index['name'] async for index in await repos.api_tokens.collection.list_indexes()]
    assert 'token_hash_unique' in names
