"""The dashboard in Russian: every page rendered for a Russian browser shows no English of its own, counts take
Russian plural forms, the language switch is remembered, and unknown pages get the dashboard's own 404 page."""
from __future__ import annotations

import contextvars
import re
from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ElementFilter, ui
from nicegui.elements.choice_element import ChoiceElement
from nicegui.testing import User

from app.db.models import Channel, Post
from app.events import ChannelChanged
from app.i18n import render, use_language
from tests.support import sign_in, store_posts

RUSSIAN = 'ru-RU,ru;q=0.9,en;q=0.8'
CHANNEL_ID = 7_200_000
# Words that stay as they are in Russian text: names, settings, formats and protocol words.
KEPT = {'Parsegram', 'Telegram', 'English', 'FloodWait', 'Bearer', 'Authorization', 'Enter', 'Fragment', 'JSON',
        'JSONL', 'CSV', 'API', 'UTC', 'SMS', 'QR', 'DC', 'development', 'tools', 'name', 'invite'}
TEXT_PROPS = ('label', 'placeholder', 'title', 'hint', 'template', 'never')
LATIN_WORD = re.compile(r'[A-Za-z]{3,}')
NOT_WORDS = re.compile(r'https?://\S+|`[^`]*`|\{\w+\}|\S*[_@./:\\]\S*|\b[A-Z]{2,}\b|\b[0-9a-f]{64}\b')  # … hashes


def shown_texts(user: User) -> list[str]:
    """Every text the page can show, open or not yet: labels, buttons, options, titles, menus and dialogs."""
    texts: list[str] = []
    with user._client:  # noqa: SLF001 (the simulated user's page)
        for element in ElementFilter(local_scope=False):
            if isinstance(element, ui.html):  # a post's card: its words and hover titles, not its tags and icons
                content = element.content
                texts.extend(re.findall(r'title="([^"]*)"', content))
                texts.append(re.sub(r'<[^>]+>', ' ', re.sub(r'<i [^>]*>[^<]*</i>', ' ', content)))
            else:
                texts.append(getattr(element, 'text', '') or getattr(element, 'content', '') or '')
            texts.extend(value for name in TEXT_PROPS if isinstance(value := element.props.get(name), str))
            if isinstance(element, ChoiceElement):
                options = element.options
                texts.extend(str(value) for value in (options.values() if isinstance(options, dict) else options))
            if isinstance(element, ui.echart):
                texts.append(element.options.get('title', {}).get('text', ''))
                texts.extend(series.get('name', '') for series in element.options.get('series', []))
            relative = element.props.get('texts')
            if isinstance(relative, dict):
                texts.extend(str(value) for key, value in relative.items() if key != 'language')
    return [text for text in texts if text]


def english_in(texts: list[str], data: set[str]) -> list[str]:
    """The texts with an English word of the app's own in them (the data shown, such as titles, excepted)."""
    found = []
    for text in texts:
        bare = text
        for value in sorted(data, key=len, reverse=True):
            bare = bare.replace(value, ' ')
        words = [word for word in LATIN_WORD.findall(NOT_WORDS.sub(' ', bare)) if word not in KEPT]
        if words:
            found.append(f'{text!r} ({", ".join(words)})')
    return found


async def stored_channel(root) -> None:
    await root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Новости Дня', username='novosti_dnya',
                                                      participants_count=1_234_567))
    now = datetime.now(UTC).replace(microsecond=0)
    posts = [Post(channel_id=CHANNEL_ID, message_id=i, date=now - timedelta(hours=5 - i), text=f'пост {i}',
                  views=1000 * i) for i in range(1, 6)]
    await store_posts(root.repos, posts)
    await store_posts(root.repos, [posts[2].model_copy(update={'text': 'пост 3, исправленный'})])  # "изменён 1 раз"
    await root.repos.channels.set_state(CHANNEL_ID, posts_stored=5, top_message_id=5, last_message_id=5,
                                        last_synced_at=now)


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()  # Telegram configured: the channels page shows its boxes and list


@pytest.fixture
async def russian(user: User, app_root) -> User:
    user.http_client.headers['Accept-Language'] = RUSSIAN
    await stored_channel(app_root)  # before the first page: the channel list reads its directory once
    await sign_in_russian(user)
    return user


async def sign_in_russian(user: User) -> None:
    from tests.conftest import ADMIN_PASSWORD
    await user.open('/login')
    await user.should_see('Вход в панель управления')
    user.find(marker='password').type(ADMIN_PASSWORD)
    user.find(marker='login').click()
    await user.should_see('Каналы', retries=150)


@pytest.mark.parametrize('path', ['/dashboard/channels', f'/dashboard/channels/{CHANNEL_ID}', '/dashboard/accounts',
                                  '/dashboard/search?q=%D0%BF%D0%BE%D1%81%D1%82', '/dashboard/search',
                                  '/dashboard/settings'])
async def test_every_page_in_russian_shows_no_english_of_its_own(russian: User, app_root, path: str):
    await russian.open(path)
    if path == '/dashboard/channels':
        await russian.should_see(marker=f'channel-{CHANNEL_ID}')  # its row, with the actions menu
    if path == f'/dashboard/channels/{CHANNEL_ID}':
        await russian.should_see(marker='posts-list', retries=100)
        await russian.should_see('пост 5', retries=100)
        await russian.should_see('изменён 1 раз')
        await russian.should_see('Полнота ещё не проверена')
        russian.find(marker='posts-list').trigger('click', 3)  # its versions, in the dialog
        await russian.should_see('Пост #3: 2 версии, от старой к новой')
    if path.startswith('/dashboard/search?'):
        await russian.should_see('Найден', retries=100)  # results, their cards and the index's line
    settings = app_root.settings
    with use_language('ru'):  # the line names its server: "MongoDB" stays a name
        database = render(app_root.database.description)
    data = {'Новости Дня', 'novosti_dnya', database, settings.mongo_db,
            str(settings.data_dir.resolve()), '+44 7700 900123'}
    leaks = english_in(shown_texts(russian), data)
    assert not leaks, 'English under ru:\n' + '\n'.join(leaks)


async def test_the_login_page_in_russian(user: User, app_root):
    user.http_client.headers['Accept-Language'] = RUSSIAN
    await user.open('/login')
    await user.should_see('Вход в панель управления')
    assert not english_in(shown_texts(user), set())


async def test_counts_take_russian_plural_forms(russian: User, app_root):
    await russian.open('/dashboard/channels')
    await russian.should_see('5 постов сохранено')
    await russian.should_see('1\xa0234\xa0567 подписчиков')
    await app_root.repos.channels.set_state(CHANNEL_ID, posts_stored=2)
    await russian.open('/dashboard/channels')
    await russian.should_see('2 поста сохранено')
    await app_root.repos.channels.set_state(CHANNEL_ID, posts_stored=21)
    await russian.open('/dashboard/channels')
    await russian.should_see('21 пост сохранён')


async def test_the_language_chosen_in_the_header_is_remembered(user: User, app_root):
    await sign_in(user)  # no Accept-Language: English
    await user.should_see('Add channels')
    user.find(marker='language-ru').click()
    await user.should_see('Добавить каналы')
    await user.open('/dashboard/settings')
    await user.should_see('API-токены')
    user.find(marker='language-en').click()
    await user.should_see('API tokens')
    user.http_client.headers['Accept-Language'] = RUSSIAN  # the choice outweighs the browser's languages
    await user.open('/dashboard/settings')
    await user.should_see('API tokens')


@pytest.mark.parametrize('path', ['/dashboard/nothing-here', '/dashboard/channels/abc', '/no/such/page'])
async def test_an_unknown_page_is_the_dashboards_own_404_in_its_language(user: User, app_root, path: str):
    await sign_in(user)
    english = await user.http_client.get(path)
    assert english.status_code == 404
    assert '<title>Page not found · Parsegram</title>' in english.text
    assert f'There is no page at {path}.' in english.text
    assert 'Log out' in english.text and 'Back to channels' in english.text  # in the frame, with a way back
    russian = await user.http_client.get(path, headers={'Accept-Language': RUSSIAN})
    assert russian.status_code == 404
    assert 'Страница не найдена' in russian.text and 'Выйти' in russian.text and 'Page not found' not in russian.text
    assert '<html lang="ru"' in russian.text and '<html lang="en-US"' in english.text


async def test_the_api_and_downloads_keep_their_own_404(user: User, app_root):
    await sign_in(user)
    answer = await user.http_client.get('/api/nothing-here')
    assert answer.status_code == 404 and answer.json()['error']['code'] == 'NOT_FOUND'
    download = await user.http_client.get('/dashboard/channels/987654/export')
    assert download.status_code == 404 and 'Page not found' not in download.text


async def test_a_page_that_fails_shows_the_error_page_in_the_frame(user: User, app_root, log_capture, caplog):
    @ui.page('/dashboard/broken-for-test')
    def broken() -> None:
        raise RuntimeError('page failed on purpose')

    await sign_in(user)
    answer = await user.http_client.get('/dashboard/broken-for-test', headers={'Accept-Language': RUSSIAN})
    assert answer.status_code == 500
    assert 'Что-то пошло не так' in answer.text and 'Выйти' in answer.text
    assert 'page failed on purpose' not in answer.text
    assert 'page failed on purpose' in log_capture.text
    caplog.clear()  # the error it logged was the point of this test


async def test_rows_updated_by_events_stay_in_russian(russian: User, app_root):
    """Events arrive from the sync jobs, outside any request: the rows they redraw keep the page's language."""
    await russian.open('/dashboard/channels')
    await russian.should_see('5 постов сохранено')
    await app_root.repos.channels.set_state(CHANNEL_ID, posts_stored=7)
    contextvars.Context().run(app_root.events.publish, ChannelChanged(channel_id=CHANNEL_ID))  # as a job would
    await russian.should_see('7 постов сохранено', retries=50)
    await russian.should_not_see('7 posts stored')
