"""A whole working day against the test DC with Telegram's limits: two accounts log in (a code, a QR code), add a
channel by every link form, import a folder, backfill, sync, take live updates, live through a reconnect and log
out. Every request the DC received is one the door counted, account by account and method by method, and Telegram
never had to answer FLOOD_WAIT."""
from __future__ import annotations

import contextlib
import uuid
from collections import Counter

import pytest

from app.crypto import SecretBox
from app.db.models import JobKind, JobStatus, RefState
from app.mtproto.accounts import AccountManager
from app.mtproto.add_queue import AddQueue
from app.mtproto.channels import ChannelService
from app.mtproto.login import LoginService, LoginState
from app.mtproto.sync import SyncService
from tests.mtproto.test_accounts import log_in
from tests.mtproto.test_login_flows import make_settings, wait_for_qr
from tests.support import eventually
from tests.telegram_dc.limits import REALISTIC

SPEED = 20  # Telegram's limits and Parsegram's pacing, both this many times as fast: a day's shape in a minute
DC_LIMITS = {method: {'rate': limit.rate * SPEED} for method, limit in REALISTIC.items()}
HANDSHAKE = {'invokeWithLayer', 'initConnection', 'help.getConfig'}  # the connection's own set-up, not a request
POSTS = 150


class Day:
    def __init__(self, telegram_dc, repos, tmp_path) -> None:
        self.telegram_dc, self.repos = telegram_dc, repos
        settings = make_settings(telegram_dc, tmp_path, request_pace_scale=SPEED)
        self.accounts = AccountManager(settings=settings, repo=repos.accounts, secret_box=SecretBox('d' * 32),
                                       owner_id=f'day-{uuid.uuid4().hex[:6]}', lease_seconds=3, tick_seconds=0.3,
                                       health_seconds=0.5)
        self.logins = LoginService(settings=settings, accounts=self.accounts)
        self.channels = ChannelService(repos=repos, accounts=self.accounts)  # the app's own pacing, at SPEED
        self.sync = SyncService(repos=repos, channels=self.channels, accounts=self.accounts,
                                owner_id=self.accounts.owner_id, tick_seconds=0.2)
        self.queue = AddQueue(repos=repos, channels=self.channels, accounts=self.accounts, idle_seconds=0.5)

    async def start(self) -> None:
        await self.accounts.start()
        await self.channels.start()
        await self.sync.start()
        await self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()
        await self.sync.stop()
        await self.channels.stop()
        await self.accounts.stop()
        await self.logins.close()

    def channel(self, title: str, **kw) -> dict:
        return self.telegram_dc.create_channel(title, posts=POSTS, seed=len(title), **kw)

    async def settled(self, channel_ids: list[int]) -> bool:
        """Each channel's backfill and the sync after it are done."""
        for kind in (JobKind.BACKFILL, JobKind.SYNC):
            done = await self.repos.jobs.collection.distinct(
                'channel_id', {'channel_id': {'$in': channel_ids}, 'kind': kind.value, 'status': JobStatus.DONE.value})
            if len(done) < len(channel_ids):
                return False
        return True


@pytest.fixture
async def day(telegram_dc, repos, tmp_path):
    made = Day(telegram_dc, repos, tmp_path)
    await made.start()
    yield made
    await made.stop()


def _name(prefix: str) -> str:
    return f'{prefix}{uuid.uuid4().hex[:8]}'


@pytest.mark.timeout(180)
@pytest.mark.dc_limits('realistic', **DC_LIMITS)
async def test_a_working_day_sends_every_request_through_the_door_and_draws_no_flood_wait(day, telegram_dc, repos):
    telegram_dc.reset_stats()
    door = day.accounts.door

    # morning: two accounts log in, one by a code, one by a QR code
    first, first_user, _ = await log_in(telegram_dc, day.logins, 4)
    second_user = telegram_dc.create_user(telegram_dc.new_phone(3), 'Second', username=_name('u'))
    step = await day.logins.start_qr()
    assert telegram_dc.accept_qr(second_user)
    step = await wait_for_qr(day.logins, step.account_id)
    assert step.status == LoginState.AUTHORIZED
    second = step.account_id
    await eventually(lambda: {first, second} <= set(day.accounts.usable_account_ids()))

    # every link form, each naming a channel not stored yet
    public = {form: day.channel(f'Public {i}', username=_name('pub'))
              for i, form in enumerate(['@{}', '{}', 't.me/{}', 'https://t.me/{}/12', 't.me/s/{}',
                                        'tg://resolve?domain={}'])}
    by_member = day.channel('Members only', private=True)  # the second account is a member: read, no join
    telegram_dc.add_member(by_member['channel_id'], second_user)
    to_join = day.channel('Join me', private=True)  # nobody is a member: a join, once confirmed
    post_link = day.channel('Post link', private=True)  # t.me/c/…: the first account is a member
    telegram_dc.add_member(post_link['channel_id'], first_user)
    by_id = day.channel('By id', private=True)
    telegram_dc.add_member(by_id['channel_id'], second_user)
    lines = [form.format(info['username']) for form, info in public.items()] + [
        f'https://t.me/+{by_member["invite_hash"]}', f't.me/joinchat/{to_join["invite_hash"]}',
        f't.me/c/{post_link["channel_id"]}/7', f'-100{by_id["channel_id"]}']
    entries = await day.queue.submit('\n'.join(lines))

    async def resolved():
        found = await repos.channel_refs.get_many([e.id for e in entries])
        return found if all(e.state in (RefState.ADDED, RefState.NEEDS_JOIN) for e in found) else None
    found = await eventually(resolved, timeout=60)
    [invite] = [e for e in found if e.state == RefState.NEEDS_JOIN]
    assert invite.ref.endswith(to_join['invite_hash'])
    await day.queue.confirm_join(invite.id)

    # a folder of the second account's: read by its access hashes, no look-up
    folder_channels = [day.channel(f'Folder {i}', private=True) for i in range(2)]
    folder_id = telegram_dc.create_folder(second_user, 'Work', [c['channel_id'] for c in folder_channels])
    imported = await day.queue.import_folder(second, folder_id)

    async def all_added():
        done = await repos.channel_refs.get_many([e.id for e in [*entries, *imported]])
        return all(e.state == RefState.ADDED for e in done)
    await eventually(all_added, timeout=60)
    channel_ids = [c['channel_id'] for c in [*public.values(), by_member, to_join, post_link, by_id,
                                             *folder_channels]]
    await eventually(lambda: day.settled(channel_ids), timeout=90, interval=0.2)
    for channel_id in channel_ids:
        assert await repos.posts.count(channel_id=channel_id) == POSTS

    # afternoon: a live post, a dropped connection, a post made while it was down, a sync
    live_id = telegram_dc.post_message(post_link['channel_id'], 'live at noon')
    await eventually(lambda: repos.posts.get(channel_id=post_link['channel_id'], message_id=live_id))
    assert telegram_dc.disconnect_all() >= 2
    missed_id = telegram_dc.post_message(post_link['channel_id'], 'posted while the line was down')
    await eventually(lambda: repos.posts.get(channel_id=post_link['channel_id'], message_id=missed_id), timeout=30)
    await eventually(lambda: {first, second} <= set(day.accounts.usable_account_ids()), timeout=30)
    job = await day.sync.enqueue(public['@{}']['channel_id'])
    await eventually(lambda: _done(repos, job.id), timeout=30)

    # evening: the second account logs out
    assert await day.accounts.log_out(second) == 'logged_out'

    def received(user_id: int | None) -> Counter:
        calls = telegram_dc.stats()['users'].get('anonymous' if user_id is None else str(user_id), {})
        return Counter({name: call['calls'] for name, call in calls.items() if name not in HANDSHAKE})

    def differences() -> dict:
        """Per account and method, requests the DC received from that user that the door did not count, and
        requests Telegram answered that the DC did not receive from that user. A login's first requests (the code,
        the QR token) come before Telegram knows the user: the DC counts them as anonymous. A request that got no
        answer (its connection dropped) may or may not have reached the DC."""
        answered_elsewhere, unanswered = Counter(), Counter()
        wrong = {}
        for account_id, user_id in ((first, first_user), (second, second_user)):
            sent, maybe, got = door.sent_by(account_id), door.unanswered_by(account_id), received(user_id)
            answered_elsewhere += sent - got
            unanswered += maybe
            if got - (sent + maybe):
                wrong[account_id] = {'received, not counted': dict(got - (sent + maybe))}
        anonymous = received(None)
        if answered_elsewhere - anonymous or anonymous - (answered_elsewhere + unanswered):
            wrong['anonymous'] = {'answered, not received from the user': dict(answered_elsewhere),
                                  'got no answer': dict(unanswered), 'received': dict(anonymous)}
        return wrong

    with contextlib.suppress(AssertionError):  # the last answers may still be on their way
        await eventually(lambda: not differences(), timeout=10)
    assert differences() == {}
    sent = door.sent_by(first) + door.sent_by(second)
    day_of_work = {'auth.sendCode', 'auth.signIn', 'auth.exportLoginToken', 'auth.logOut', 'users.getUsers',
                   'contacts.resolveUsername', 'messages.checkChatInvite', 'messages.importChatInvite',
                   'messages.getDialogs', 'messages.getDialogFilters', 'channels.getChannels',
                   'channels.getFullChannel', 'messages.getHistory', 'updates.getState'}
    assert day_of_work <= set(sent), day_of_work - set(sent)
    assert telegram_dc.stats()['flood_waits'] == []


async def _done(repos, job_id):
    job = await repos.jobs.get(job_id)
    return job if job and job.status == JobStatus.DONE else None
