"""API errors keep their code in every language; their message follows Accept-Language (English or Russian)."""
from __future__ import annotations

import pytest

RUSSIAN = {'Accept-Language': 'ru-RU,ru;q=0.9,en;q=0.5'}
ENGLISH = {'Accept-Language': 'en-US,en;q=0.9'}


def _has_cyrillic(text: str) -> bool:
    return any('а' <= char.lower() <= 'я' for char in text)


async def test_a_missing_channel_is_explained_in_the_language_asked_for(api, app_root):
    russian = await api.get('/api/mtproto/channels/123456', headers=RUSSIAN)
    english = await api.get('/api/mtproto/channels/123456', headers=ENGLISH)
    assert russian.status_code == english.status_code == 404
    assert russian.json()['error']['code'] == english.json()['error']['code'] == 'CHANNEL_NOT_FOUND'
    assert english.json()['error']['message'] == 'No channel 123456 is stored.'
    assert russian.json()['error']['message'] == 'Канал 123456 не сохранён.'


async def test_without_accept_language_the_api_answers_in_english(api, app_root):
    answer = await api.get('/api/mtproto/channels/123456')
    assert answer.json()['error']['message'] == 'No channel 123456 is stored.'


@pytest.mark.parametrize(('method', 'path', 'body', 'status', 'code'), [
    ('post', '/api/mtproto/channels', {'ref': 'https://example.com/not-telegram'}, 400, 'BAD_REFERENCE'),
    ('get', '/api/mtproto/jobs/000000000000000000000000', None, 404, 'JOB_NOT_FOUND'),
    ('post', '/api/mtproto/channel-refs', '{"broken json', 400, 'BAD_REQUEST'),
])
async def test_errors_from_every_layer_speak_russian(api, app_root, method, path, body, status, code):
    kwargs = {'content': body} if isinstance(body, str) else {'json': body} if body is not None else {}
    answer = await api.request(method.upper(), path, headers={**RUSSIAN, 'Content-Type': 'application/json'},
                               **kwargs)
    assert answer.status_code == status, answer.text
    error = answer.json()['error']
    assert error['code'] == code
    assert _has_cyrillic(error['message']), error['message']


async def test_a_request_without_a_token_is_refused_in_russian(user, app_root):
    answer = await user.http_client.get('/api/mtproto/channels', headers=RUSSIAN)
    assert answer.status_code == 401
    assert answer.json()['error']['code'] == 'UNAUTHORIZED'
    assert 'Authorization: Bearer' in answer.json()['error']['message']
    assert _has_cyrillic(answer.json()['error']['message'])
