"""/dashboard/channels and /dashboard/channels/{id} with NiceGUI's simulated user, the test DC and the database."""
from __future__ import annotations

import functools
import re
import uuid
from datetime import timedelta

import pytest
from nicegui.testing import User

from app.db.models import Channel, Post, utcnow
from app.events import PostsStored
from app.mtproto.limits import Budget, MethodClass
from app.pages import channel_detail
from tests.support import eventually, sign_in, store_posts

WAIT = 200  # should_see retries (0.1 s each) for steps that talk to Telegram


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def telegram_account(telegram_dc, root, x: int = 4, name: str = 'PageReader') -> str:
    """Log a new test user in through the app's login service; returns its account id."""
    phone = telegram_dc.new_phone(x)
    telegram_dc.create_user(phone, name)
    step = await root.logins.start(phone)
    assert (await root.logins.verify(step.account_id, str(x) * 5)).status == 'authorized'
    return step.account_id


until = functools.partial(eventually, timeout=30.0, interval=0.1)


async def test_empty_state_without_accounts(user: User, app_root):
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    await user.should_see(marker='empty-state')
    await user.should_see('No channels yet')


async def test_add_several_refs_with_reasons_preview_join_and_the_table(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root)
    public = f'pg_{uuid.uuid4().hex[:8]}'
    telegram_dc.create_channel('Page Public', username=public, posts=150, seed=41)
    private = telegram_dc.create_channel('Page Private', private=True, posts=20, seed=42)
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    await user.should_see(marker='channel-refs')
    missing = f'@no_such_{uuid.uuid4().hex[:6]}'
    user.find(marker='channel-refs').type(
        f'@{public}\nhttps://t.me/+{private["invite_hash"]}\nnot/a/link\n{missing}\nhello world!!')
    user.find(marker='add-channels').click()
    await user.should_see('added “Page Public”', retries=WAIT)
    await user.should_see('invite to “Page Private”', retries=WAIT)
    await user.should_see('not/a/link: "not/a/link" is not a Telegram link', retries=WAIT)
    await user.should_see('No channel is called', retries=WAIT)
    await user.should_see('hello world!!: "hello world!!" contains spaces', retries=WAIT)
    # the lines that failed stay in the box, one per line, to be corrected
    box = next(iter(user.find(marker='channel-refs').elements))
    await until(lambda: box.value == f'not/a/link\n{missing}\nhello world!!')
    user.find(marker='channel-refs').clear()
    assert [c.title for c in await app_root.repos.channels.list()] == ['Page Public']

    user.find(marker='join-channel').click()
    await user.should_see('added “Page Private”', retries=WAIT)
    stored = await app_root.repos.channels.list()
    assert sorted(c.title for c in stored) == ['Page Private', 'Page Public']
    assert all(stored_channel.joined_by for stored_channel in stored if stored_channel.title == 'Page Private')

    public_id = next(c.id for c in stored if c.title == 'Page Public')
    await until(lambda: _backfilled(app_root, public_id))
    await user.should_see('150 posts stored', retries=WAIT)
    await user.should_see(f'@{public}')
    await user.should_see(marker=f'channel-{public_id}')

    # two forms of a stored channel and a repeated line: each outcome counted as it is, the repeat reported
    user.find(marker='channel-refs').type(f't.me/{public}\n@{public}\nt.me/{public}')
    user.find(marker='add-channels').click()
    await user.should_see('“Page Public” is already here.', retries=WAIT)
    await user.should_see('2 already here · 1 repeated line merged', retries=WAIT)
    await user.should_not_see('added ·')
    assert len(await app_root.repos.channels.list()) == 2

    # the accounts page counts what that cost: 4 look-ups (two usernames, the invite twice), none for the repeat
    await user.open('/dashboard/accounts')
    await user.should_see('resolves left today: 196 of 200', retries=WAIT)
    await user.should_see('channels joined: 1 of 500', retries=WAIT)
    await user.should_see('in the last minute', retries=WAIT)


async def _backfilled(root, channel_id):
    channel = await root.repos.channels.get(channel_id)
    return channel and channel.state.backfilled and channel.state.status == 'idle'


async def test_detail_page_charts_search_filters_and_export_link(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 5)
    username = f'pd_{uuid.uuid4().hex[:8]}'
    info = telegram_dc.create_channel('Detail Channel', username=username, posts=80, seed=43, about='Detail about')
    telegram_dc.post_message(info['channel_id'], 'Unique zebra words for searching')
    result = await app_root.channels.add(f'@{username}')
    channel_id = result.channel.id
    await until(lambda: _backfilled(app_root, channel_id))
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see('Detail about')
    await user.should_see('81 posts stored')
    await user.should_see(marker='chart-posts', retries=WAIT)  # the charts are drawn once their queries answer
    chart = user.find(marker='chart-posts').elements.pop()
    assert sum(chart.options['series'][0]['data']) >= 1
    assert len(chart.options['xAxis']['data']) == 90  # every day of the window, a quiet one as a zero
    # a channel added today has one subscriber count: the chart says so instead of drawing an empty frame
    await user.should_see('One measurement so far:', retries=WAIT)
    await user.should_not_see(marker='chart-subscribers')
    await user.should_see('81 posts match')
    await user.should_see(marker='post-81')
    cards = user.find(marker='posts-list').elements.pop().default_slot.children
    links = {link for card in cards for link in re.findall(r'href="([^"]+)"', card.content)}
    post_links = {link for link in links if link.startswith('https://t.me/')}
    # one page of 30 posts, an album's posts in one card
    assert f'https://t.me/{username}/81' in post_links and len(post_links) == len(cards) <= 30
    assert any(link.startswith('/dashboard/search?q=%23') for link in links)  # a hashtag opens a search for it

    user.find(marker='post-search').type('ZEBRA searching')
    await user.should_see('1 post matches', retries=WAIT)
    await user.should_see('Unique <mark>zebra</mark> words for <mark>searching</mark>')  # hits marked
    await user.should_not_see(marker='post-80')

    # the search lives in the page URL: opened again from it, the page shows the same search
    await user.open(f'/dashboard/channels/{channel_id}?q=ZEBRA+searching')
    await user.should_see('1 post matches', retries=WAIT)
    assert user.find(marker='post-search').elements.pop().value == 'ZEBRA searching'

    user.find(marker='post-search').clear()
    media = user.find(marker='post-media').elements.pop()
    media.value = 'true'
    stored_media = [p.message_id async for p in app_root.repos.posts.stream(channel_id=channel_id)
                    if p.media is not None]
    await user.should_see(f'{len(stored_media)} posts match', retries=WAIT)

    schedule = user.find(marker='sync-interval').elements.pop()
    schedule.value = 0
    await until(lambda: _sync_enabled(app_root, channel_id, False))
    schedule.value = 60
    await until(lambda: _sync_enabled(app_root, channel_id, True))
    assert (await app_root.repos.channels.get(channel_id)).sync.interval_seconds == 60

    response = await user.http_client.get(f'/dashboard/channels/{channel_id}/export?format=jsonl&has_media=true')
    assert response.status_code == 200 and len(response.text.splitlines()) == len(stored_media)


async def _sync_enabled(root, channel_id, enabled):
    return (await root.repos.channels.get(channel_id)).sync.enabled is enabled


async def test_pause_resume_and_cancel_from_the_table(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 6)
    # a slow backfill (30 s), so a loaded machine still has time to act on it
    app_root.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=1.0))
    username = f'pp_{uuid.uuid4().hex[:8]}'
    info = telegram_dc.create_channel('Slow Channel', username=username, posts=3000, seed=44)
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    user.find(marker='channel-refs').type(f'@{username}')
    user.find(marker='add-channels').click()
    await user.should_see(marker='pause-job', retries=WAIT)
    user.find(marker='pause-job').click()
    await user.should_see('paused', retries=WAIT)
    job = await app_root.repos.jobs.active_for_channel(info['channel_id'])
    assert job.status == 'paused'
    await user.should_see(marker='resume-job', retries=WAIT)
    user.find(marker='resume-job').click()
    await until(lambda: _job_status(app_root, job.id, 'running'))
    await user.should_see(marker='cancel-job', retries=WAIT)
    user.find(marker='cancel-job').click()  # stopping a backfill asks first and names the channel
    await user.should_see('Stop reading the history of “Slow Channel”?', retries=WAIT)
    user.find('Keep going').click()
    assert (await app_root.repos.jobs.get(job.id)).status == 'running'
    user.find(marker='cancel-job').click()
    user.find(marker='confirm-cancel').click()
    await until(lambda: _job_status(app_root, job.id, 'cancelled'))
    await user.should_not_see(marker='job-progress', retries=WAIT)
    await until(lambda: not app_root.sync.is_running(job.id))  # its batch in flight is written, then it ends
    assert await app_root.repos.posts.count(channel_id=info['channel_id']) < 3000  # it stopped part-way
    assert await app_root.repos.jobs.active_for_channel(info['channel_id']) is None  # and nothing else reads on

    # the row says the history is incomplete (not "never synced") and offers to read the rest
    await user.should_see('of about 3,000 posts: history incomplete', retries=WAIT)
    await user.should_not_see('never synced')
    app_root.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=1000.0, burst=50))
    user.find(marker='resume-job').click()
    await user.should_see('Reading the rest of its history', retries=WAIT)
    await until(lambda: _backfilled(app_root, info['channel_id']))
    await user.should_not_see(marker='history-incomplete', retries=WAIT)
    assert await app_root.repos.posts.count(channel_id=info['channel_id']) == 3000

    # a channel whose schedule is off reads "paused" and offers Resume, which switches the schedule back on
    await app_root.sync.set_schedule(info['channel_id'], enabled=False)
    await user.should_see('paused', retries=WAIT)
    user.find(marker='resume-job').click()
    await until(lambda: _sync_enabled(app_root, info['channel_id'], True))


async def _job_status(root, job_id, status):
    return (await root.repos.jobs.get(job_id)).status == status


async def test_choose_the_account_that_reads_a_new_channel(telegram_dc, user: User, app_root):
    account_ids = [await telegram_account(telegram_dc, app_root, x, name)
                   for x, name in ((6, 'First Reader'), (7, 'Second Reader'))]
    public = f'pg_{uuid.uuid4().hex[:8]}'
    info = telegram_dc.create_channel('Chosen Reader', username=public, posts=10, seed=44)
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    await user.should_see(marker='add-account', retries=WAIT)  # hidden while only one account could be chosen
    choice = user.find(marker='add-account').elements.pop()
    assert 'Second Reader' in choice.options[account_ids[1]]
    choice.value = account_ids[1]
    user.find(marker='channel-refs').type(f'@{public}')
    user.find(marker='add-channels').click()
    await user.should_see('added “Chosen Reader”', retries=WAIT)
    stored = await app_root.repos.channels.get(info['channel_id'])
    assert list(stored.access_hashes) == [account_ids[1]]


async def test_a_paste_beyond_the_days_resolves_shows_what_waits_and_until_when(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 8, 'Budgeted')
    app_root.channels.limiter.set_budget(MethodClass.RESOLVE, Budget(per_second=1000, burst=50, per_day=3))
    prefix = f'pw_{uuid.uuid4().hex[:6]}'
    for i in range(5):
        telegram_dc.create_channel(f'Waiting {i}', username=f'{prefix}{i}', posts=0)
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    user.find(marker='channel-refs').type('\n'.join(f'@{prefix}{i}' for i in range(5)))
    user.find(marker='add-channels').click()
    await user.should_see('added “Waiting 2”', retries=WAIT)
    await user.should_see('3 added · 2 in the queue — 2 waiting; all expected by about', retries=WAIT)
    await user.should_see(f"@{prefix}4: waits — Budgeted has used today's resolve requests.", retries=WAIT)
    await user.should_see(marker='add-result-until')  # the expected time, shown in the reader's own time zone
    assert sorted(c.title for c in await app_root.repos.channels.list()) == ['Waiting 0', 'Waiting 1', 'Waiting 2']
    box = next(iter(user.find(marker='channel-refs').elements))
    assert box.value == ''  # nothing failed: the waiting lines are in the queue, not lost

    # after a reload (or a visit elsewhere) the page still shows what the queue holds
    await user.open('/dashboard/accounts')
    await user.open('/dashboard/channels')
    await user.should_see(f"@{prefix}3: waits — Budgeted has used today's resolve requests.", retries=WAIT)
    await user.should_see(f"@{prefix}4: waits — Budgeted has used today's resolve requests.")
    await user.should_see('2 in the queue — 2 waiting; all expected by about')


async def test_a_line_held_by_a_flood_wait_says_so_not_that_a_budget_is_spent(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 7, 'Flooded')
    name = f'pf_{uuid.uuid4().hex[:6]}'
    telegram_dc.create_channel('Held Back', username=name, posts=0)
    telegram_dc.add_fault('contacts.resolveUsername', 'FLOOD_WAIT', seconds=900, count=1)
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    user.find(marker='channel-refs').type(f'@{name}')
    user.find(marker='add-channels').click()
    await user.should_see(f'@{name}: waits — Telegram asked Flooded to wait (FLOOD_WAIT) before more resolve requests.',
                          retries=WAIT)
    await user.should_see(marker='add-result-until')
    assert await app_root.repos.channels.list() == []


async def test_a_running_backfill_updates_its_row_in_place_and_a_delete_dialog_stays_open(
        telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 9)
    app_root.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=2.0))  # ~15 s for 3000 posts
    info = telegram_dc.create_channel('Held Open', username=f'ph_{uuid.uuid4().hex[:8]}', posts=3000, seed=45)
    channel_id = info['channel_id']
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    await app_root.channels.add(f'@{info["username"]}')
    await user.should_see(marker='job-progress', retries=WAIT)  # the new row came in by itself
    card = user.find(marker=f'channel-{channel_id}').elements.pop()
    elements = {e.id for e in card.descendants()}
    user.find(marker='delete-channel').click()
    await user.should_see(marker='delete-question')
    counted = [_stored(user)]

    def batch(event: PostsStored) -> bool:
        return event.channel_id == channel_id
    for _ in range(4):  # batches land while the dialog is open
        await app_root.events.next(PostsStored, batch, timeout=30)
        await app_root.events.drain()
        await until(lambda: _stored(user) > counted[-1])
        counted.append(_stored(user))
        await user.should_see(marker='delete-question')  # still open
        question = user.find(marker='delete-question').elements.pop().text
        assert f'its {counted[-1]:,} posts stored?' in question
    assert user.find(marker=f'channel-{channel_id}').elements == {card}
    assert {e.id for e in card.descendants()} == elements  # nothing in the row was rebuilt: no blinking avatar
    assert counted == sorted(counted) and 0 < counted[-1] < 3000
    user.find(marker='confirm-delete').click()
    await user.should_not_see(marker=f'channel-{channel_id}', retries=WAIT)
    assert await app_root.repos.channels.get(channel_id) is None


def _stored(user: User) -> int:
    label = user.find(marker='posts-stored').elements.pop()
    return int(label.text.split()[0].replace(',', ''))


async def test_the_channel_page_header_follows_its_backfill_and_has_the_job_buttons(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 3)
    app_root.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=2.0))  # ~15 s for 3000 posts
    info = telegram_dc.create_channel('Followed', username=f'pf_{uuid.uuid4().hex[:8]}', posts=3000, seed=46)
    channel_id = info['channel_id']
    await app_root.channels.add(f'@{info["username"]}')
    await app_root.events.next(PostsStored, lambda e: e.channel_id == channel_id, timeout=30)
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see(marker='pause-job', retries=WAIT)
    first = await until(lambda: _header_stored(user))
    await app_root.events.next(PostsStored, lambda e: e.channel_id == channel_id, timeout=30)
    await until(lambda: (_header_stored(user) or 0) > first)  # the header counts up without a reload
    user.find(marker='pause-job').click()
    await user.should_see(marker='resume-job', retries=WAIT)
    await user.should_see('paused', retries=WAIT)
    user.find(marker='resume-job').click()
    await user.should_see(marker='pause-job', retries=WAIT)
    user.find(marker='cancel-job').click()
    user.find(marker='confirm-cancel').click()
    await user.should_not_see(marker='cancel-job', retries=WAIT)

    async def header_shows_what_is_stored() -> bool:  # right after a cancel too, not 0
        return _header_stored(user) == await app_root.repos.posts.count(channel_id=channel_id) > 0
    await until(header_shows_what_is_stored)
    user.find(marker='sync-now').click()
    await user.should_see('Sync queued', retries=WAIT)


def _header_stored(user: User) -> int | None:
    words = user.find(marker='channel-posts').elements.pop().text.split()
    return int(words[0].replace(',', '')) if words else None  # None until the header has its first figures


async def test_the_list_shows_one_page_and_keeps_its_filters_in_the_url(user: User, app_root):
    for n in range(60):
        await app_root.repos.channels.upsert_metadata(
            Channel(id=9_100_000 + n, title=f'Listed {n:02d}', username=f'listed_{n:02d}', participants_count=n))
    await app_root.repos.channels.add_tags([9_100_000 + n for n in (5, 6, 7)], ['news'])
    await sign_in(user, retries=WAIT)

    def rows() -> list[int]:  # in the order shown
        table = user.find(marker='channel-table').elements.pop()
        return [int(card.props['data-channel']) for card in table.default_slot.children]

    await user.should_see('1–50 of 60')
    assert rows() == [9_100_000 + n for n in range(50)]
    await user.open('/dashboard/channels?page=2')
    await user.should_see('51–60 of 60')
    assert rows() == [9_100_000 + n for n in range(50, 60)]

    await user.open('/dashboard/channels?tag=news&sort=subscribers')
    await user.should_see('1–3 of 3')
    assert user.find(marker='tag-filter').elements.pop().value == 'news'
    assert rows() == [9_100_007, 9_100_006, 9_100_005]  # most subscribers first

    await user.open('/dashboard/channels?q=nothing+like+it&status=bogus&page=-3')  # nonsense is left at defaults
    await user.should_see(marker='no-match')
    assert user.find(marker='status-filter').elements.pop().value == ''
    user.find('Show all').click()
    await user.should_see('1–50 of 60')


async def test_import_a_telegram_folder_from_the_page(telegram_dc, user: User, app_root):
    account_id = await telegram_account(telegram_dc, app_root, 2, 'FolderReader')
    user_id = (await app_root.repos.accounts.get(account_id)).user_id
    ids = [telegram_dc.create_channel(f'Imported {i}', username=f'imp_{uuid.uuid4().hex[:8]}')['channel_id']
           for i in range(2)]
    telegram_dc.create_folder(user_id, 'Local news', ids, emoticon='📰')
    await sign_in(user, retries=WAIT)
    await user.should_see(marker='import-folder')
    user.find(marker='import-folder').click()
    await user.should_see('📰 Local news · 2 channels', retries=WAIT)
    user.find(marker='folder-import').click()
    await user.should_see('2 added', retries=WAIT)
    for channel_id in ids:
        await user.should_see(marker=f'channel-{channel_id}', retries=WAIT)
    assert {tuple((await app_root.repos.channels.get(i)).tags) for i in ids} == {('local news',)}
    await user.should_see('local news')  # the tag on the rows


async def test_a_waiting_row_says_why_it_waits_and_counts_down(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 5, 'Waiter')
    info = telegram_dc.create_channel('Made To Wait', username=f'pw_{uuid.uuid4().hex[:8]}', posts=20)
    telegram_dc.add_fault('messages.getHistory', 'FLOOD_WAIT', seconds=900, count=1)
    await app_root.channels.add(f'@{info["username"]}')
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/channels')
    await user.should_see('Telegram asked its account to wait (FLOOD_WAIT)', retries=WAIT)
    countdown = user.find(marker='job-progress-text').elements.pop()
    assert 'goes on in' in str(countdown.default_slot.children[1].props['template'])
    await user.should_not_see(marker='job-progress')  # no empty bar for a wait


async def test_the_channel_page_follows_a_backfill_a_sync_s_edits_and_deletions_without_a_reload(
        telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 4, 'Follower')
    info = telegram_dc.create_channel('Followed Posts', username=f'pl_{uuid.uuid4().hex[:8]}', posts=40, seed=47)
    channel_id = info['channel_id']
    edited = telegram_dc.post_message(channel_id, 'Words before the edit')
    deleted = telegram_dc.post_message(channel_id, 'A post that will vanish')
    telegram_dc.add_fault('messages.getHistory', 'FLOOD_WAIT', seconds=3, count=1)  # the page opens first
    await app_root.channels.add(f'@{info["username"]}')
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see('0 posts match', retries=WAIT)
    await user.should_see('42 posts match', retries=WAIT)  # the backfill's posts arrive in the open page
    await user.should_see('Words before the edit')
    await until(lambda: _backfilled(app_root, channel_id))

    telegram_dc.edit_message(channel_id, edited, 'Words after the edit')
    telegram_dc.delete_messages(channel_id, [deleted])
    telegram_dc.post_message(channel_id, 'A brand new post')
    user.find(marker='sync-now').click()
    await user.should_see('A brand new post', retries=WAIT)
    await user.should_see('Words after the edit', retries=WAIT)
    await user.should_see('data-mark="post-deleted"', retries=WAIT)
    await user.should_see('43 posts match', retries=WAIT)
    cards = [element for element in user.find(marker='posts-list').elements.pop().default_slot.children]
    assert 'post-43' in cards[0]._markers  # the new one on top


async def test_a_slow_first_paint_falls_back_to_drawing_after_the_browser_connects(user: User, app_root, monkeypatch):
    monkeypatch.setattr(channel_detail, 'FIRST_PAINT_SECONDS', 0)  # as if the database took longer than a second
    channel_id = 7_300_000
    await app_root.repos.channels.upsert_metadata(Channel(id=channel_id, title='Slow Paint', username='slow_paint'))
    now = utcnow()
    await store_posts(app_root.repos, [
        Post(channel_id=channel_id, message_id=i, date=now - timedelta(hours=5 - i), text=f'slow post {i}')
        for i in range(1, 4)])
    await app_root.repos.channels.set_state(channel_id, posts_stored=3, top_message_id=3, last_message_id=3)
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see('slow post 3', retries=WAIT)
    await user.should_see('3 posts match')
    assert len(user.find(marker='channel-header').elements) == 1  # drawn once, not twice
    await app_root.repos.writer.delete(channel_id, [2])  # the page it drew follows the writer's events
    await user.should_see('data-mark="post-deleted"', retries=WAIT)
