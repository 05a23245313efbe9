"""The query language on a small archive: what each operator and filter finds, the order, and clear errors."""
from datetime import timedelta

import pytest

from app.db.models import ForwardInfo
from app.search.engine import Sort
from app.search.query import QueryError, parse
from app.search.service import SearchRequest, SearchRequestError
from app.search.snippet import Matcher, snippet
from tests.search.conftest import BASE, photo, post, store_posts


@pytest.fixture
async def archive(channels, searching):
    await store_posts(channels, [
        post(10, 1, 'Запуск ракеты перенесли на пятницу', views=500),
        post(10, 2, 'Ракета, ракета и ещё раз ракета: три ракеты на старте', views=50),
        post(10, 3, 'Реклама: купите ракету', views=5000),
        post(10, 4, 'Фото со старта #космос', media=photo(), views=100),
        post(20, 5, 'Ракеты запускают с Байконура @kosmos_ru', views=10,
             fwd_from=ForwardInfo(from_id=-1000000000010, channel_post=1)),
        post(20, 6, 'Запускаем трансляцию #космос', views=20),
        post(30, 7, 'The rocket launched at dawn', views=1),
    ])
    await store_posts(channels, [post(10, 1, 'Запуск ракеты перенесли на субботу', views=500)])
    await channels.writer.delete(20, [6])
    await searching.start()
    return searching


async def test_operators(archive):
    assert set(await archive.found('ракета')) == {1, 2, 3, 5}
    assert set(await archive.found('ракета -реклама')) == {1, 2, 5}
    assert set(await archive.found('"запуск ракеты"')) == {1}
    assert set(await archive.found('"ракеты запуск"')) == set()  # a phrase keeps its order
    assert set(await archive.found('запуск*')) == {1, 5, 6}  # запуск, запускают, запускаем
    assert set(await archive.found('пятница OR суббота')) == {1}
    assert set(await archive.found('байконур OR реклама ракета')) == {3, 5}
    assert set(await archive.found('#космос')) == {4, 6}
    assert set(await archive.found('@kosmos_ru')) == {5}
    assert set(await archive.found('rockets launch')) == {7}


async def test_filters(archive):
    assert set(await archive.found('ракета channel:@spacenews')) == {1, 2, 3}
    assert set(await archive.found('ракета channel:-1000000000020')) == {5}
    assert set(await archive.found('tag:ru')) == {5, 6}
    assert set(await archive.found('', tags=['news'], has_media=True)) == {4}
    assert set(await archive.found('media:photo')) == {4}
    assert set(await archive.found('views:100 ракета')) == {1, 3}
    assert set(await archive.found('from:@spacenews')) == {5}
    assert set(await archive.found('is:edited')) == {1}
    assert set(await archive.found('is:deleted')) == {6}
    assert set(await archive.found('#космос -is:deleted')) == {4}
    assert len(await archive.found('since:2026-03-01 until:2026-03-01')) == 7  # plain dates: whole days
    assert await archive.found('until:2026-02-28') == []
    assert set(await archive.found('since:2026-03-01T05:00')) == {5, 6, 7}
    assert set(await archive.found('ракета', channel_ids=[10, 30], since=BASE + timedelta(hours=2))) == {2, 3}
    with pytest.raises(SearchRequestError, match='No stored channel matches "@nobody"'):
        await archive.found('channel:@nobody')


async def test_order_by_relevance_date_or_views(archive):
    ranked = await archive.found('ракета')
    assert ranked[0] == 2  # four times in a short post
    assert await archive.found('ракета', sort=Sort.DATE) == [5, 3, 2, 1]
    assert await archive.found('ракета', sort=Sort.VIEWS) == [3, 1, 2, 5]


async def test_pages_follow_a_cursor_to_the_end(archive):
    page = await archive.service.search(SearchRequest(q='', sort=Sort.DATE, limit=3))
    seen = [item.message_id for item in page.items]
    while page.next_cursor:
        page = await archive.service.search(SearchRequest(q='', sort=Sort.DATE, limit=3, cursor=page.next_cursor))
        seen += [item.message_id for item in page.items]
    assert seen == [7, 6, 5, 4, 3, 2, 1] and page.total == 7
    with pytest.raises(SearchRequestError, match='cursor'):
        await archive.service.search(SearchRequest(q='', cursor='not-ours'))


async def test_snippets_mark_every_form_and_escape_the_rest(archive):
    page = await archive.service.search(SearchRequest(q='ракета'))
    by_id = {item.message_id: item.snippet for item in page.items}
    assert by_id[5] == '<mark>Ракеты</mark> запускают с Байконура @kosmos_ru'
    long_text = 'вступление ' * 60 + '<b>ракеты</b> & "старт" ' + 'хвост ' * 60
    cut = snippet(long_text, Matcher.of(parse('ракета "старт"')))
    assert '&lt;b&gt;<mark>ракеты</mark>&lt;/b&gt; &amp; &quot;<mark>старт</mark>&quot;' in cut
    assert cut.startswith('…') and cut.endswith('…') and len(cut) < 300


@pytest.mark.parametrize(('query', 'column', 'says'), [
    ('ракета "запуск', 8, 'not closed'),
    ('OR ракета', 1, 'OR needs a word on each side'),
    ('ракета OR', 8, 'OR needs a word on each side'),
    ('ракета color:red', 8, 'Unknown filter "color:"'),
    ('since:31.01.2026', 1, 'write it as 2026-01-31'),
    ('р*', 1, 'at least 2 letters'),
    ('- ракета', 1, 'without a space'),
    ('media:hologram', 1, 'Unknown media type'),
    ('x' * 1001, 1001, 'longer than 1000 characters'),
])
def test_a_malformed_query_says_where_and_how(query, column, says):
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert caught.value.column == column and says in str(caught.value)


async def test_equal_scores_page_newest_first_with_nothing_lost_or_repeated(channels, searching):
    await store_posts(channels, [post(10, i, f'Одинаковый текст про спутник {i % 3}') for i in range(1, 61)])
    await searching.start()
    seen, cursor = [], None
    while True:
        page = await searching.service.search(SearchRequest(q='спутник', limit=7, cursor=cursor))
        seen += [item.message_id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(60, 0, -1))  # every score equal: newest first, each once
