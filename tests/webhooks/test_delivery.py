"""Deliveries to a real receiver on loopback: signed, retried in order under one id with growing pauses (on a clock
the test moves), resumed after a restart, refused for private addresses also behind a redirect, and delivered once
when two delivering processes share the database."""
from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from app.clock import ManualClock, SystemClock
from app.crypto import SecretBox
from app.db.models import Channel
from app.webhooks.addresses import AddressPolicy
from app.webhooks.event_log import NewEvent
from app.webhooks.sender import WebhookSenders
from app.webhooks.signing import new_secret, verify
from tests.receiver import receiving
from tests.support import eventually
from tests.webhook_process import BOX as PROCESS_BOX

BOX = SecretBox('webhook-tests')
ROOT = Path(__file__).resolve().parents[2]


def senders(repos, clock, *, allow: str = 'true', owner: str = 'process-a') -> WebhookSenders:
    return WebhookSenders(repo=repos.webhooks, log=repos.events_log, secret_box=BOX, policy=AddressPolicy(allow),
                          clock=clock, owner_id=owner)


async def webhook(repos, url: str, events: tuple[str, ...] = ('post.created',)):
    secret = new_secret()
    hook = await repos.webhooks.create(url=url, events=list(events), secret_enc=BOX.encrypt(secret),
                                       position=await repos.events_log.head())
    return hook, secret


async def post_event(repos, message_id: int) -> int:
    return await repos.events_log.append('post.created', {'channel_id': 7, 'message_id': message_id, 'text': 'hi'},
                                         channel_id=7)


async def test_a_failing_receiver_gets_the_event_again_under_its_id_with_growing_pauses(repos):
    clock = ManualClock()
    async with receiving(answers=[500, 500, 500]) as receiver:
        hook, secret = await webhook(repos, receiver.url)
        number = await post_event(repos, 1)
        sending = senders(repos, clock)
        await sending.start()
        try:
            for count in range(1, 5):
                await receiver.wait_for(count)
                if count < 4:  # move the clock to the retry the sender has planned
                    planned = await eventually(lambda count=count: _next_attempt(repos, hook.id, count))
                    await clock.advance((planned - clock.now()).total_seconds())
            got = receiver.requests
            assert [r.headers['x-parsegram-event-id'] for r in got] == [f'evt_{number}'] * 4
            assert {r.event['id'] for r in got} == {f'evt_{number}'}
            times = [int(r.headers['x-parsegram-timestamp']) for r in got]
            gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
            assert gaps[0] >= 3 and gaps[0] < gaps[1] < gaps[2], gaps
            for request in got:  # each one verifies with the secret, as the README shows
                assert verify(secret, request.headers['x-parsegram-timestamp'], request.body,
                              request.headers['x-parsegram-signature'])
                assert request.headers['x-parsegram-event'] == 'post.created'
            delivered = await eventually(lambda: _delivered(repos, hook.id))
            assert (delivered.status, delivered.attempts, delivered.status_code) == ('delivered', 4, 200)
            await eventually(lambda: _position(repos, hook.id, number))  # recorded, then the position moves
        finally:
            await sending.stop()


async def test_a_restart_delivers_what_was_not_delivered_in_order(repos):
    clock = ManualClock()
    async with receiving(default=503) as receiver:
        hook, _ = await webhook(repos, receiver.url)
        first = await post_event(repos, 1)
        sending = senders(repos, clock)
        await sending.start()
        await receiver.wait_for(1)
        await eventually(lambda: _next_attempt(repos, hook.id, 1))
        await sending.stop()  # the process stops with the event undelivered
        second = await post_event(repos, 2)

        receiver.default = 200
        clock = ManualClock(clock.now() + timedelta(minutes=5))  # the new process starts after the planned retry
        restarted = senders(repos, clock, owner='process-b')
        await restarted.start()
        try:
            got = await receiver.wait_for(3)
            assert [r.event['id'] for r in got] == [f'evt_{first}', f'evt_{first}', f'evt_{second}']
            await eventually(lambda: _position(repos, hook.id, second))
        finally:
            await restarted.stop()


async def test_private_addresses_are_refused_also_behind_a_redirect(repos):
    async with receiving(host='127.0.0.2') as inside, receiving() as redirector:
        redirector.answers.extend([(307, {'Location': inside.url})] * 2)
        hook, _ = await webhook(repos, redirector.url)
        sending = senders(repos, SystemClock(), allow='127.0.0.1')  # the redirector's address only
        delivery = await sending.send_test(hook)
        assert delivery.status == 'refused'
        assert '127.0.0.2' in delivery.error and 'WEBHOOK_ALLOW_PRIVATE' in delivery.error
        assert len(redirector.requests) == 1 and inside.requests == []

        strict = senders(repos, SystemClock(), allow='false')
        delivery = await strict.send_test(hook)
        assert delivery.status == 'refused' and len(redirector.requests) == 1  # not even the first hop
        opened = senders(repos, SystemClock(), allow='true')
        delivery = await opened.send_test(hook)
        assert delivery.status == 'delivered' and len(inside.requests) == 1
        await opened.stop()
        await strict.stop()
        await sending.stop()


async def test_two_delivering_processes_send_each_event_once(repos):
    async with receiving() as receiver:
        hooks = [(await webhook(repos, receiver.url + f'/{n}'))[0] for n in range(3)]
        first, second = senders(repos, SystemClock(), owner='process-a'), senders(repos, SystemClock(),
                                                                                 owner='process-b')
        await asyncio.gather(first.start(), second.start())
        try:
            numbers = [await post_event(repos, m) for m in range(1, 11)]
            got = await receiver.wait_for(30)
            by_hook: dict[str, list[str]] = {}
            for request in got:
                by_hook.setdefault(request.path, []).append(request.event['id'])
            assert by_hook == {f'/hook/{n}': [f'evt_{number}' for number in numbers] for n in range(3)}
            for hook in hooks:
                await eventually(lambda hook=hook: _position(repos, hook.id, numbers[-1]))
            assert len(receiver.requests) == 30  # nothing twice
        finally:
            await asyncio.gather(first.stop(), second.stop())


async def test_a_webhook_for_rare_events_finds_them_behind_thousands_of_others_and_moves_past_the_rest(repos):
    async with receiving() as receiver:
        hook, _ = await webhook(repos, receiver.url, events=('channel.deleted', 'job.failed'))
        await repos.webhooks.update(hook.id, channel_ids=[5])
        log = repos.events_log
        noise = [NewEvent('post.created', {'n': n}, channel_id=5) for n in range(7_000)]  # more than a read holds
        for start in range(0, len(noise), 500):
            await log.in_transaction(lambda s, part=noise[start:start + 500]: log.append_many(part, s))
        await log.append('channel.deleted', {'channel_id': 7}, channel_id=7)  # another channel: not wanted
        wanted = await log.append('channel.deleted', {'channel_id': 5}, channel_id=5)
        failed = await log.append('job.failed', {'job_id': 'j1'})  # no channel: passes a channel filter
        await log.in_transaction(lambda s: log.append_many([NewEvent('post.created', {'n': -1}, channel_id=5)], s))
        sending = senders(repos, SystemClock())
        await sending.start()
        try:
            got = await receiver.wait_for(2)
            assert [r.event['id'] for r in got] == [f'evt_{wanted}', f'evt_{failed}']
            await eventually(lambda: _position(repos, hook.id, failed + 1))  # the last post passed over too
            assert len(receiver.requests) == 2
        finally:
            await sending.stop()


async def test_two_parsegram_processes_turn_each_post_into_one_event_and_deliver_it_once(repos, db, mongo_uri):
    await repos.channels.upsert_metadata(Channel(id=7, title='Shared'))
    async with receiving() as receiver:
        for n in range(4):
            await repos.webhooks.create(url=f'{receiver.url}/{n}', events=['post.created'], position=0,
                                        secret_enc=PROCESS_BOX.encrypt(new_secret()))
        processes = [await asyncio.create_subprocess_exec(
            sys.executable, '-m', 'tests.webhook_process', mongo_uri, db.name, owner, '7', str(first), '40',
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            for owner, first in (('process-a', 1), ('process-b', 1001))]
        try:
            got = await receiver.wait_for(4 * 80, timeout=60)
        finally:
            outputs = [(await process.communicate(b''))[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0] and outputs == [b'stopped\n'] * 2
        by_hook: dict[str, list[tuple[int, int]]] = {}
        for request in got:
            number = int(request.event['id'].removeprefix('evt_'))
            by_hook.setdefault(request.path, []).append((number, request.event['data']['message_id']))
        for path, delivered in by_hook.items():  # every post once, in the order of the events
            assert delivered == sorted(delivered), path
            assert sorted(m for _, m in delivered) == [*range(1, 41), *range(1001, 1041)], path
        numbers = {request.event['id'] for request in got}
        assert len(numbers) == 80 and len(by_hook) == 4  # one event per post, shared by the four webhooks
        assert len(receiver.requests) == 4 * 80  # nothing twice, also after both stopped


async def _next_attempt(repos, webhook_id, attempts):
    hook = await repos.webhooks.get(webhook_id)
    return hook.next_attempt_at if hook.attempts == attempts and hook.next_attempt_at else None


async def _delivered(repos, webhook_id):
    found = [d for d in await repos.webhooks.deliveries_of(webhook_id) if d.status == 'delivered']
    return found[0] if found else None


async def _position(repos, webhook_id, number):
    return (await repos.webhooks.get(webhook_id)).position == number
