"""The dashboard password, login throttling and API tokens, against the real database."""
from __future__ import annotations

import pytest

from app.auth import AdminAuth, ApiTokens, AuthUnavailable, LoginThrottle, hash_password, verify_password
from app.clock import ManualClock
from app.config import Settings
from app.db.repos import Repos


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_password_hash_verifies_only_the_right_password() -> None:
    stored = hash_password('a long and fine password')
    assert stored.startswith('scrypt$') and 'a long and fine password' not in stored
    assert verify_password('a long and fine password', stored)
    assert not verify_password('a long and fine passworD', stored)
    assert not verify_password('a long and fine password', 'garbage')
    assert hash_password('same') != hash_password('same')  # salted


def test_throttle_delay_grows_after_repeated_failures() -> None:
    throttle = LoginThrottle(free_attempts=3, base_delay=2.0)
    delays = [throttle.failed('1.2.3.4') for _ in range(6)]
    assert delays[:2] == [0.0, 0.0]
    assert delays[2:] == [2.0, 4.0, 8.0, 16.0]
    assert 15 < throttle.retry_after('1.2.3.4') <= 16
    assert throttle.retry_after('5.6.7.8') == 0  # other clients are not slowed down
    throttle.succeeded('1.2.3.4')
    assert throttle.retry_after('1.2.3.4') == 0


async def test_throttle_forgets_old_failures() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(free_attempts=2, base_delay=50, forget_after=3600, clock=clock)
    throttle.failed('k')
    throttle.failed('k')
    assert throttle.retry_after('k') == 50
    await clock.advance(30)
    assert throttle.retry_after('k') == 20
    await clock.advance(3571)
    assert throttle.retry_after('k') == 0
    throttle.failed('k')
    assert throttle.retry_after('k') == 0  # a first failure again: free


async def test_generated_password_is_printed_once_and_stored_hashed(repos: Repos, capsys, log_capture) -> None:
    auth = AdminAuth(settings=settings(admin_password=None), repo=repos.admin)
    with pytest.raises(AuthUnavailable):
        await auth.verify('anything')  # nothing set up yet
    password = await auth.ensure_password()
    assert password and len(password) >= 20
    printed = capsys.readouterr().out
    assert password in printed
    stored = await repos.admin.get()
    assert stored is not None and password not in stored.password_hash
    assert await auth.verify(password)
    assert not await auth.verify(password + 'x')

    again = AdminAuth(settings=settings(admin_password=None), repo=repos.admin)  # the next start
    assert await again.ensure_password() is None
    assert capsys.readouterr().out == ''
    assert await again.verify(password)
    assert password not in log_capture.text


async def test_admin_password_from_environment_wins(repos: Repos) -> None:
    await repos.admin.create_if_missing(password_hash=hash_password('the generated one'))
    auth = AdminAuth(settings=settings(admin_password='chosen by the admin'), repo=repos.admin)
    assert await auth.ensure_password() is None
    assert await auth.verify('chosen by the admin')
    assert not await auth.verify('the generated one')


async def test_api_tokens_are_shown_once_stored_hashed_and_revocable(repos: Repos, log_capture) -> None:
    tokens = ApiTokens(settings=settings(api_token=None), repo=repos.api_tokens)
    record, plain = await tokens.create(name='cron job')
    assert plain.startswith('pgt_') and len(plain) > 30
    stored = await repos.api_tokens.collection.find_one({'_id': record.id})
    assert plain not in str(stored)
    assert await tokens.verify(plain)
    assert not await tokens.verify(plain[:-1])
    assert not await tokens.verify('')
    assert (await repos.api_tokens.get(token_id=record.id)).last_used_at is not None
    assert await tokens.revoke(token_id=record.id)
    assert not await tokens.verify(plain)
    assert plain not in log_capture.text


async def test_api_token_from_environment(repos: Repos) -> None:
    tokens = ApiTokens(settings=settings(api_token='an-environment-token-123'), repo=repos.api_tokens)
    assert await tokens.verify('an-environment-token-123')
    assert not await tokens.verify('an-environment-token-124')


def test_secret_box_round_trip_and_wrong_key() -> None:
    from app.crypto import SecretBox

    box = SecretBox('a secret key of enough length')
    token = box.encrypt('1BVtsOKABu0session-string')
    assert 'session-string' not in token
    assert box.decrypt(token) == '1BVtsOKABu0session-string'
    with pytest.raises(ValueError):
        SecretBox('another secret key entirely').decrypt(token)
    with pytest.raises(ValueError):
        box.decrypt('not a token')
