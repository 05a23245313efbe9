"""How fast one Telethon client pages a large channel through the test DC (messages/s)."""

from __future__ import annotations

import argparse
import asyncio
import time

from telethon import TelegramClient
from telethon.crypto import rsa
from telethon.sessions import StringSession

from tests.telegram_dc.server import TelegramDC

PHONE = '9996610001'


async def page_channel(dc: TelegramDC, username: str, expected: int) -> tuple[int, float, float, float]:
    session = StringSession()
    session.set_dc(dc.dc_id, dc.host, dc.port)
    client = TelegramClient(session, 1, 'bench', receive_updates=False)
    await client.connect()
    try:
        sent = await client.send_code_request(PHONE)
        await client.sign_in(PHONE, PHONE[5] * 5, phone_code_hash=sent.phone_code_hash)
        entity = await client.get_input_entity(username)
        count = 0
        server_start = dc.call(time.thread_time)
        start, cpu_start = time.perf_counter(), time.process_time()
        async for _ in client.iter_messages(entity, wait_time=0):
            count += 1
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        server_cpu = dc.call(time.thread_time) - server_start
    finally:
        await client.disconnect()
    if count != expected:
        raise SystemExit(f'paged {count} messages, expected {expected}')
    return count, elapsed, cpu, server_cpu


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench dc', description=__doc__)
    parser.add_argument('--posts', type=int, default=50_000)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--cold', action='store_true', help='do not serialise the stored messages before paging')
    args = parser.parse_args(argv)

    dc = TelegramDC().start_in_thread()
    try:
        rsa.add_key(dc.public_key_pem.decode(), old=False)
        start = time.perf_counter()
        dc.call(dc.world.create_user, PHONE, 'Bench')
        channel = dc.call(
            dc.world.create_channel, 'Bench channel', username='bench_channel', posts=args.posts, seed=args.seed
        )
        if not args.cold:
            # Telegram serves history from storage; the World keeps each message's wire bytes once made.
            dc.call(lambda: sum(len(bytes(m)) for m in dc.world.channel_messages(channel['channel_id'])))
        seeded = time.perf_counter() - start
        count, elapsed, cpu, server_cpu = asyncio.run(page_channel(dc, 'bench_channel', args.posts))
    finally:
        dc.stop_thread()
    rate = count / elapsed
    print(f'seeded {args.posts} posts in {seeded:.1f} s')
    print(f'paged {count} messages in {elapsed:.2f} s: {rate:,.0f} messages/s (goal 5,000)')
    # Client and server share this process, so CPU time shows the cost even when other work slows the wall clock.
    print(f'CPU time (client and server together): {cpu:.2f} s, {count / cpu:,.0f} messages per CPU second')
    print(f'CPU time of the server alone: {server_cpu:.2f} s, {count / server_cpu:,.0f} messages per CPU second')
    return 0 if rate >= 5000 else 1
