"""The World on its own: paging arithmetic, entities, seeding, SRP and error answers, without the network."""

from __future__ import annotations

import asyncio
import random

import pytest
from telethon.password import compute_check
from telethon.tl import functions, types

from tests.support import eventually
from tests.telegram_dc import srp
from tests.telegram_dc.__main__ import publish_now_and_then
from tests.telegram_dc.content import detect_entities, utf16_len
from tests.telegram_dc.errors import RpcError
from tests.telegram_dc.state import window
from tests.telegram_dc.world import World


class Peer:
    """The server's side of one session, as the World sees it."""

    def __init__(self, auth_key_id: int) -> None:
        self.auth_key_id = auth_key_id
        self.session_id = auth_key_id
        self.pushed: list = []

    def push(self, updates) -> None:
        self.pushed.append(updates)


def test_window_follows_telegram_offsets():
    ids = [1, 2, 3, 5, 8, 9, 10]
    dates = [100, 200, 300, 500, 800, 900, 1000]
    page = dict(offset_date=0, add_offset=0)
    assert window(ids, dates, offset_id=0, limit=3, **page) == [10, 9, 8]
    assert window(ids, dates, offset_id=8, limit=3, **page) == [5, 3, 2]
    assert window(ids, dates, offset_id=0, offset_date=800, add_offset=0, limit=2) == [5, 3]
    # Going towards newer messages the way Telethon's reverse iteration asks: offset_id=N+1, add_offset=-limit.
    assert window(ids, dates, offset_id=4, offset_date=0, add_offset=-3, limit=3) == [9, 8, 5]
    assert window(ids, dates, offset_id=4, offset_date=0, add_offset=-2, limit=2) == [8, 5]
    assert window(ids, dates, offset_id=11, offset_date=0, add_offset=-3, limit=3) == []
    assert window(ids, dates, offset_id=0, offset_date=0, add_offset=5, limit=5) == [2, 1]


def test_entities_use_utf16_offsets():
    text = '🔥 see https://example.com/a, ask @parsegram_team #news'
    entities = detect_entities(text)
    kinds = [type(e).__name__ for e in entities]
    assert kinds == ['MessageEntityUrl', 'MessageEntityMention', 'MessageEntityHashtag']
    url = entities[0]
    assert url.offset == utf16_len('🔥 see ') == 7
    encoded = text.encode('utf-16-le')
    assert encoded[url.offset * 2:(url.offset + url.length) * 2].decode('utf-16-le') == 'https://example.com/a'
    assert encoded[entities[2].offset * 2:].decode('utf-16-le') == '#news'


def test_seeded_posts_are_deterministic_and_varied():
    first, second = World(), World(seed=99)
    a = first.create_channel('A', posts=5_000, seed=7)
    b = second.create_channel('B', posts=5_000, seed=7)
    ma, mb = first.channel_messages(a['channel_id']), second.channel_messages(b['channel_id'])
    assert [bytes(m) for m in ma[:500]] == [bytes(m) for m in mb[:500]]
    assert [m.id for m in ma] == list(range(1, 5_001))
    media = {type(m.media).__name__ for m in ma}
    assert {'NoneType', 'MessageMediaPhoto', 'MessageMediaDocument'} <= media
    mimes = {m.media.document.mime_type for m in ma if isinstance(m.media, types.MessageMediaDocument)}
    assert {'video/mp4', 'audio/mpeg', 'application/pdf'} <= mimes
    assert any(m.grouped_id for m in ma) and any(m.fwd_from for m in ma) and any(m.reactions for m in ma)
    assert any(m.replies for m in ma) and any(m.post_author for m in ma) and any(m.edit_date for m in ma)
    assert any(m.pinned for m in ma)
    entity_kinds = {type(e).__name__ for m in ma for e in m.entities or ()}
    assert {'MessageEntityUrl', 'MessageEntityTextUrl', 'MessageEntityMention', 'MessageEntityHashtag'} <= entity_kinds
    albums: dict[int, list[int]] = {}
    for m in ma:
        if m.grouped_id:
            albums.setdefault(m.grouped_id, []).append(m.id)
    assert all(ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) > 1 for ids in albums.values())


def test_srp_accepts_only_the_password():
    rng = random.Random(3)
    record = srp.make_record('correct horse', rng)
    challenge = srp.make_challenge(record, rng)
    algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        record.salt1, record.salt2, srp.G, srp.P_BYTES)
    password = types.account.Password(
        new_algo=algo, new_secure_algo=types.SecurePasswordKdfAlgoSHA512(b'salt'), secure_random=b'r',
        has_password=True, current_algo=algo, srp_B=challenge.B.to_bytes(256, 'big'), srp_id=challenge.srp_id)
    good = compute_check(password, 'correct horse')
    bad = compute_check(password, 'correct horse!')
    assert srp.check(record, challenge, good.A, good.M1)
    assert not srp.check(record, challenge, bad.A, bad.M1)


async def test_unknown_and_unauthorized_calls_answer_errors():
    world = World()
    peer = Peer(1)
    with pytest.raises(RpcError) as unauthorized:
        await world.invoke(peer, functions.users.GetUsersRequest([types.InputUserSelf()]))
    assert (unauthorized.value.code, unauthorized.value.message) == (401, 'AUTH_KEY_UNREGISTERED')
    with pytest.raises(RpcError) as unknown:
        await world.invoke(peer, functions.help.GetPremiumPromoRequest())
    assert unknown.value.code == 400
    config = await world.invoke(peer, functions.InvokeWithLayerRequest(
        229, functions.help.GetConfigRequest()))
    assert config.dc_options[0].port == world.port


async def test_code_login_binds_the_key_and_answers_telegram_errors():
    world = World()
    user_id = world.create_user('+999 66 3 1234', 'Eve')
    peer = Peer(7)
    with pytest.raises(RpcError, match='PHONE_NUMBER_INVALID'):
        await world.invoke(peer, functions.auth.SendCodeRequest('12', 1, 'h', types.CodeSettings()))
    sent = await world.invoke(peer, functions.auth.SendCodeRequest('9996631234', 1, 'h', types.CodeSettings()))
    assert isinstance(sent.type, types.auth.SentCodeTypeApp) and sent.timeout
    with pytest.raises(RpcError, match='PHONE_CODE_INVALID'):
        await world.invoke(peer, functions.auth.SignInRequest('9996631234', sent.phone_code_hash, '12345'))
    auth = await world.invoke(peer, functions.auth.SignInRequest('9996631234', sent.phone_code_hash, '33333'))
    assert auth.user.id == user_id and auth.user.is_self
    me = await world.invoke(peer, functions.users.GetUsersRequest([types.InputUserSelf()]))
    assert me[0].phone == '9996631234'
    random_sent = await world.invoke(peer, functions.auth.SendCodeRequest('4915112345678', 1, 'h',
                                                                          types.CodeSettings()))
    code = world.login_code('+49 151 12345678')
    assert code and len(code) == 5
    answer = await world.invoke(peer, functions.auth.SignInRequest('4915112345678', random_sent.phone_code_hash,
                                                                   code))
    assert isinstance(answer, types.auth.AuthorizationSignUpRequired)


async def test_live_updates_reach_members_with_consecutive_pts():
    world = World()
    member, outsider = world.create_user('9996640001', 'M'), world.create_user('9996640002', 'O')
    ch = world.create_channel('Live', username='live_updates', posts=3)
    world.add_member(ch['channel_id'], member)
    a, b = Peer(1), Peer(2)
    world.auth.update({1: member, 2: outsider})
    world.attach(a)
    world.attach(b)
    mid = world.post_message(ch['channel_id'], 'hello https://example.com')
    world.edit_message(ch['channel_id'], mid, 'hello again')
    world.delete_messages(ch['channel_id'], [1, 2])
    assert b.pushed == []
    kinds = [(type(u.updates[0]).__name__, u.updates[0].pts, u.updates[0].pts_count) for u in a.pushed]
    assert kinds == [('UpdateNewChannelMessage', 5, 1), ('UpdateEditChannelMessage', 6, 1),
                     ('UpdateDeleteChannelMessages', 8, 2)]
    assert a.pushed[0].chats[0].access_hash == world.channel_hash(member, ch['channel_id'])
    assert a.pushed[0].updates[0].message.entities[0].length == len('https://example.com')


def test_demo_seed_has_what_the_readme_promises():
    world = World()
    demo = world.seed_demo()
    user = demo['user']
    assert user['phone'].startswith('99966') and user['code'] == user['phone'][5] * 5 and user['password']
    assert world.users[user['user_id']].password is not None
    sizes = {c['username']: c['posts'] for c in demo['channels'] if c['username']}
    assert sizes['parsegram_demo_news'] == 5000
    assert len(world.channel_messages(next(c['channel_id'] for c in demo['channels']
                                           if c['username'] == 'parsegram_demo_news'))) == 5000
    assert any(c['username'] is None and c['invite_hash'] for c in demo['channels'])


async def test_the_demo_server_keeps_publishing_until_stopped():
    world = World()
    demo = world.seed_demo()
    channels = [c['channel_id'] for c in demo['channels'] if c['username'] and c['posts']]
    before = {channel: len(world.channel_messages(channel)) for channel in channels}
    stop = asyncio.Event()
    task = asyncio.create_task(publish_now_and_then(world, channels, 0.01, stop))
    await eventually(lambda: all(len(world.channel_messages(c)) > before[c] for c in channels), timeout=5)
    stop.set()
    await asyncio.wait_for(task, 1)  # stops at once, not after its interval
    newest = world.channel_messages(channels[0])[-1]
    assert newest.message and newest.views >= 1  # a post a person can read, not an empty message
