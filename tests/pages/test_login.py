"""Dashboard access: every page needs the admin session; /login checks the password and slows down guessing."""
from __future__ import annotations

import pytest
from nicegui.testing import User

from tests.conftest import ADMIN_PASSWORD


async def log_in(user: User, password: str = ADMIN_PASSWORD) -> None:
    await user.open('/login')
    user.find(marker='password').type(password)
    user.find(marker='login').click()
    if password == ADMIN_PASSWORD:
        await user.should_see('No channels yet', retries=50)  # the check runs in a thread: wait for the landing


@pytest.mark.parametrize('path', ['/', '/dashboard/channels', '/dashboard/settings', '/dashboard/accounts'])
async def test_pages_redirect_to_login_without_session(user: User, path: str) -> None:
    await user.open(path)
    await user.should_see('Log in to the dashboard')
    await user.should_not_see('No channels yet')


async def test_wrong_password_is_refused(user: User, log_capture) -> None:
    await log_in(user, 'not the password at all')
    await user.should_see('Wrong password.', retries=50)
    await user.open('/dashboard/channels')
    await user.should_see('Log in to the dashboard')
    assert 'not the password at all' not in log_capture.text


async def test_right_password_opens_the_dashboard(user: User, log_capture) -> None:
    await log_in(user)
    await user.should_see('No channels yet')
    await user.should_see('add an account')
    await user.open('/')
    await user.should_see('No channels yet')
    await user.open('/dashboard/settings')
    await user.should_see('API tokens')
    assert ADMIN_PASSWORD not in log_capture.text


async def test_login_returns_to_the_page_asked_for(user: User) -> None:
    await user.open('/dashboard/settings')
    user.find(marker='password').type(ADMIN_PASSWORD)
    user.find(marker='login').click()
    await user.should_see('API tokens', retries=50)


async def test_repeated_wrong_passwords_are_slowed_down(user: User) -> None:
    await user.open('/login')
    for attempt in range(3):
        user.find(marker='password').type(f'wrong guess {attempt}')
        user.find(marker='login').click()
        await user.should_see('Wrong password.', retries=50)
    await user.should_see('before the next try')
    user.find(marker='password').type(ADMIN_PASSWORD)  # even the right password must wait now
    user.find(marker='login').click()
    await user.should_see('Too many wrong passwords', retries=50)
    await user.open('/dashboard/channels')
    await user.should_see('Log in to the dashboard')


async def test_logout_ends_the_session(user: User) -> None:
    await log_in(user)
    await user.should_see('No channels yet')
    user.find(marker='logout').click()
    await user.should_see('Log in to the dashboard')
    await user.open('/dashboard/channels')
    await user.should_see('Log in to the dashboard')


async def test_missing_telegram_credentials_are_explained(user: User) -> None:
    await log_in(user)
    await user.should_see('Telegram API credentials are missing')
    await user.should_see('API development tools')
    await user.should_see('TELEGRAM_API_ID')


async def test_settings_page_creates_shows_once_and_revokes_tokens(user: User, app_root) -> None:
    await log_in(user)
    await user.open('/dashboard/settings')
    await user.should_see('No tokens yet.')
    user.find(marker='token-name').type('exporter')
    user.find(marker='create-token').click()
    await user.should_see('copy it now', retries=50)
    shown = user.find(marker='new-token').elements.pop().value
    assert shown.startswith('pgt_')
    assert await app_root.api_tokens.verify(shown)
    user.find(marker='copy-token').click()
    await user.should_see('Token copied to the clipboard')

    await user.open('/dashboard/settings')  # shown once: a new visit lists it without the value
    await user.should_see('exporter')
    await user.should_not_see('copy it now')
    user.find(marker='revoke-exporter').click()  # asks first, naming the token
    await user.should_see('Revoke the token “exporter” (pgt_')
    user.find('Cancel').click()
    assert await app_root.api_tokens.verify(shown)
    user.find(marker='revoke-exporter').click()
    user.find(marker='confirm-revoke').click()
    await user.should_see('Token “exporter” revoked', retries=50)
    assert not await app_root.api_tokens.verify(shown)
    await user.should_not_see(marker='token-exporter')  # a revoked token is counted, not listed
    await user.should_see('1 revoked token is no longer listed.')
    await user.should_see('No tokens yet.')


@pytest.mark.parametrize('target', ['/%5Cevil.example/x', '//evil.example/x', 'https://evil.example/x',
                                    '/%09/evil.example', '/login?redirect_to=/x'])
async def test_after_login_the_browser_goes_only_to_a_path_on_this_site(user: User, target: str) -> None:
    await user.open(f'/login?redirect_to={target}')
    user.find(marker='password').type(ADMIN_PASSWORD)
    user.find(marker='login').click()
    await user.should_see('No channels yet', retries=50)  # the dashboard's home, not the other host


async def test_a_link_to_logout_cannot_log_anyone_out_but_the_dashboards_post_can(user: User) -> None:
    await log_in(user)
    answer = await user.http_client.get('/logout')  # any page could embed this
    assert answer.status_code == 405
    await user.open('/dashboard/settings')
    await user.should_see('API tokens')
    answer = await user.http_client.post('/logout')
    assert answer.status_code == 303 and answer.headers['location'] == '/login'
    await user.open('/dashboard/settings')
    await user.should_see('Log in to the dashboard')


@pytest.mark.parametrize('channel_id', [str(2**64), '0', '-5'])
async def test_a_channel_address_beyond_any_id_is_a_page_that_says_so(user: User, app_root, channel_id: str) -> None:
    await log_in(user)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see('This channel is not stored')
