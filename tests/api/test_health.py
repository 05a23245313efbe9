"""The JSON API's health route, token check and error format, through the running app."""
from __future__ import annotations

import time

import pytest
from nicegui.testing import User

from app.db.embedded import free_port


def bearer(token: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {token}'}


async def test_health_reports_database_and_accounts(user: User, app_root) -> None:
    response = await user.http_client.get('/api/health')
    assert response.status_code == 200
    body = response.json()
    assert body['status'] == 'ok' and body['db'] == 'ok'
    assert body['accounts'] == {'connected': 0, 'total': 0}
    assert body['version']


async def test_api_needs_a_valid_token(user: User, app_env: dict[str, str], app_root) -> None:
    missing = await user.http_client.get('/api/tokens')
    assert missing.status_code == 401
    assert missing.json()['error']['code'] == 'UNAUTHORIZED'
    wrong = await user.http_client.get('/api/tokens', headers=bearer('pgt_not-a-real-token-at-all'))
    assert wrong.status_code == 401 and wrong.json()['error']['code'] == 'UNAUTHORIZED'
    not_bearer = await user.http_client.get('/api/tokens', headers={'Authorization': f'Basic {app_env["API_TOKEN"]}'})
    assert not_bearer.status_code == 401
    ok = await user.http_client.get('/api/tokens', headers=bearer(app_env['API_TOKEN']))
    assert ok.status_code == 200 and ok.json() == []


async def test_created_token_works_until_revoked(user: User, app_env: dict[str, str], app_root,
                                                 log_capture) -> None:
    admin = bearer(app_env['API_TOKEN'])
    created = await user.http_client.post('/api/tokens', json={'name': 'script'}, headers=admin)
    assert created.status_code == 201
    token = created.json()['token']
    assert token.startswith('pgt_')

    listed = await user.http_client.get('/api/tokens', headers=bearer(token))
    assert listed.status_code == 200
    assert [t['name'] for t in listed.json()] == ['script']
    assert 'token' not in listed.json()[0] and 'token_hash' not in listed.json()[0]

    revoked = await user.http_client.delete(f'/api/tokens/{created.json()["id"]}', headers=admin)
    assert revoked.status_code == 200 and revoked.json()['revoked_at']
    refused = await user.http_client.get('/api/tokens', headers=bearer(token))
    assert refused.status_code == 401
    again = await user.http_client.delete(f'/api/tokens/{created.json()["id"]}', headers=admin)
    assert again.status_code == 404 and again.json()['error']['code'] == 'NOT_FOUND'
    assert token not in log_capture.text
    assert app_env['API_TOKEN'] not in log_capture.text


async def test_bad_requests_get_the_error_format(user: User, app_env: dict[str, str], app_root) -> None:
    headers = {**bearer(app_env['API_TOKEN']), 'Content-Type': 'application/json'}
    malformed = await user.http_client.post('/api/tokens', content='{"name": ', headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()['error']['code'] == 'BAD_REQUEST'
    assert 'JSON' in malformed.json()['error']['message']
    invalid = await user.http_client.post('/api/tokens', json={'name': ''}, headers=headers)
    assert invalid.status_code == 400 and invalid.json()['error']['code'] == 'BAD_REQUEST'
    assert 'name' in invalid.json()['error']['message']
    unknown = await user.http_client.get('/api/no-such-route', headers=headers)
    assert unknown.status_code == 404 and unknown.json()['error']['code'] == 'NOT_FOUND'


class TestDatabaseDown:
    @pytest.fixture
    def app_extra_env(self) -> dict[str, str]:
        return {'MONGO_URI': f'mongodb://127.0.0.1:{free_port()}/?directConnection=true'}

    async def test_health_answers_quickly_when_the_database_is_down(self, user: User) -> None:
        answers = []
        deadline = time.monotonic() + 20  # the first connection attempt gives up after 3 s of server selection
        while 'degraded' not in answers and time.monotonic() < deadline:
            started = time.monotonic()
            response = await user.http_client.get('/api/health')
            assert time.monotonic() - started < 2.5
            assert response.status_code == 503
            body = response.json()
            answers.append(body['status'])
            assert (body['status'], body['db']) in {('starting', 'starting'), ('degraded', 'down')}
        assert answers[-1] == 'degraded', answers
        assert answers == sorted(answers, key=['starting', 'degraded'].index), 'never back to starting once it failed'

    async def test_dashboard_shows_the_database_problem(self, user: User) -> None:
        from tests.conftest import ADMIN_PASSWORD

        await user.open('/login')
        user.find(marker='password').type(ADMIN_PASSWORD)  # ADMIN_PASSWORD works without the database
        user.find(marker='login').click()
        await user.should_see('No channels yet', retries=50)
        await user.should_see('database', retries=50)
        await user.should_see('keeps retrying', retries=80)

    async def test_token_check_reports_unavailable_database(self, user: User, app_env: dict[str, str]) -> None:
        response = await user.http_client.get('/api/tokens', headers=bearer('pgt_some-token-from-the-dashboard'))
        assert response.status_code == 503
        assert response.json()['error']['code'] == 'DB_UNAVAILABLE'
        env_token = await user.http_client.get('/api/tokens', headers=bearer(app_env['API_TOKEN']))
        assert env_token.status_code == 503  # the token is fine, the route's database call is not
        assert env_token.json()['error']['code'] == 'DB_UNAVAILABLE'


async def test_registering_the_api_again_does_not_nest_the_apps_lifespan(user: User, app_root) -> None:
    """Every test registers the API on the same app object; each registration used to wrap the app's lifespan once
    more, until a run of a few hundred tests ended in a RecursionError at start-up."""
    from nicegui import app

    from app.api import register_api

    lifespan = app.router.lifespan_context
    register_api(app, app_root)
    register_api(app, app_root)
    assert app.router.lifespan_context is lifespan
    assert (await user.http_client.get('/api/health')).status_code == 200
