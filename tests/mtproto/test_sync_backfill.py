"""Backfill against the test DC: exact contents, and exactly-once after a SIGKILL mid-way."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from telethon.sessions import StringSession
from telethon.tl import types

from app.db.models import JobKind, JobStatus
from app.mtproto.channels import ChannelService
from app.mtproto.jobs import backfill
from app.mtproto.mapping import post_from_message
from tests.support import unpaced

COMPARED = {'fetched_at', 'hash', 'version_at', 'position'}  # set by the post writer


@pytest.fixture
async def reader(telegram_dc):
    phone = telegram_dc.new_phone(5)
    telegram_dc.create_user(phone, 'Backfiller')
    client = telegram_dc.make_client()
    await telegram_dc.login(client, phone)
    yield client
    await client.disconnect()


def world_messages(telegram_dc, channel_id):
    return telegram_dc.dc.call(telegram_dc.world.channel_messages, channel_id)


async def _add(repos, reader, username):
    result = await ChannelService(repos=repos, limiter=unpaced()).add_with_client(reader, 'acc', f'@{username}')
    channel = result.channel
    return channel, types.InputChannel(channel.id, channel.access_hashes['acc'])


async def test_backfill_stores_exactly_the_channels_posts(telegram_dc, repos, reader):
    info = telegram_dc.create_channel('Three thousand', username='bf_three_k', posts=3000, seed=11)
    channel, peer = await _add(repos, reader, 'bf_three_k')
    job = await repos.jobs.create(kind=JobKind.BACKFILL, channel_id=channel.id)
    progress = []

    async def note(p):
        progress.append((p.done, p.total))

    job = await backfill(reader, repos, job, peer, on_progress=note)
    expected = [post_from_message(m, channel.id) for m in world_messages(telegram_dc, info['channel_id'])]
    expected = sorted((p for p in expected if p is not None), key=lambda p: p.message_id, reverse=True)
    stored = [p async for p in repos.posts.stream(channel_id=channel.id)]
    assert len(stored) == len(expected) == 3000
    for got, want in zip(stored, expected, strict=True):
        assert got.model_dump(exclude=COMPARED) == want.model_dump(exclude=COMPARED), want.message_id
    # the seeded channel has the kinds of content worth checking
    assert any(p.media for p in stored) and any(p.reactions for p in stored) and any(p.entities.urls for p in stored)
    assert any(p.fwd_from for p in stored) and any(p.grouped_id for p in stored)
    assert job.progress.done == job.progress.total == max(p.message_id for p in stored)
    assert progress[0][0] < progress[-1][0] and progress[-1][0] == progress[-1][1]


WORKER = textwrap.dedent("""
    import asyncio, sys
    from pymongo import AsyncMongoClient
    from telethon import TelegramClient
    from telethon.crypto import rsa
    from telethon.sessions import StringSession
    from telethon.tl import types
    from app.db.repos import Repos
    from app.mtproto.jobs import backfill

    async def main(uri, db_name, session, key_path, job_id, channel_id, access_hash):
        rsa.add_key(open(key_path).read(), old=False)
        mongo = AsyncMongoClient(uri, tz_aware=True)
        repos = Repos.create(mongo[db_name])
        client = TelegramClient(StringSession(session), 1, 'parsegram-test')
        await client.connect()
        job = await repos.jobs.get(job_id)
        await backfill(client, repos, job, types.InputChannel(int(channel_id), int(access_hash)), batch=100)
        print('finished', flush=True)

    asyncio.run(main(*sys.argv[1:]))
""")


# One of the suite's slowest, on purpose: a second process (its own interpreter, Telethon and driver) backfills
# until it is killed after 2,000 of 6,000 posts, then the resume reads the rest; about 15 s alone, up to 70 s
# while the other workers run their own backfills. Fewer posts would not leave a batch in flight to lose.
@pytest.mark.timeout(150)
async def test_sigkill_mid_backfill_then_resume_gives_exactly_every_post(telegram_dc, repos, db, mongo_uri, reader):
    info = telegram_dc.create_channel('Six thousand', username='bf_six_k', posts=6_000, seed=12)
    channel, peer = await _add(repos, reader, 'bf_six_k')
    job = await repos.jobs.create(kind=JobKind.BACKFILL, channel_id=channel.id)
    session = StringSession.save(reader.session)
    process = subprocess.Popen(
        [sys.executable, '-c', WORKER, mongo_uri, db.name, session, str(telegram_dc.public_key_path), job.id,
         str(channel.id), str(peer.access_hash)], cwd=os.getcwd(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            current = await repos.jobs.get(job.id)
            if current.progress.done >= 2000:
                break
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, 'the worker made no progress'
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = await repos.jobs.get(job.id)
    stored_before = await repos.posts.count(channel_id=channel.id)
    assert 2000 <= stored_before < 6_000 and killed_at.checkpoint['offset_id'] > 1
    job = await backfill(reader, repos, killed_at, peer)
    ids = [p.message_id async for p in repos.posts.stream(channel_id=channel.id)]
    expected = sorted((m.id for m in world_messages(telegram_dc, info['channel_id'])), reverse=True)
    assert len(ids) == len(set(ids)) == 6_000
    assert ids == expected
    assert job.progress.done == job.progress.total
    assert job.status == JobStatus.QUEUED  # backfill() leaves the status to its caller
