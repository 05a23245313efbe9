"""Run the test DC by itself: `python -m tests.telegram_dc --port P --control-port C --public-key-out FILE`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from pathlib import Path

from .server import TelegramDC
from .world import World


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m tests.telegram_dc', description='A local Telegram server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0, help='MTProto port (0 = pick a free one)')
    parser.add_argument('--control-port', type=int, default=0, help='HTTP control port (0 = pick a free one)')
    parser.add_argument('--dc-id', type=int, default=2)
    parser.add_argument('--public-key-out', type=Path, default=Path('telegram_dc_public.pem'))
    parser.add_argument('--demo', action='store_true', help='seed demo channels and a demo user')
    parser.add_argument('--limits', choices=('realistic', 'off'), default=None,
                        help="Telegram's request limits (FLOOD_WAIT); default realistic with --demo, else off")
    parser.add_argument('--publish-every', type=float, default=0.0, metavar='SECONDS',
                        help='with --demo: post a new message to a demo channel this often (0 = never)')
    parser.add_argument('--log-level', default='WARNING')
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    limits = args.limits or ('realistic' if args.demo else 'off')
    dc = TelegramDC(host=args.host, port=args.port, control_port=args.control_port, dc_id=args.dc_id, limits=limits)
    await dc.start()
    args.public_key_out.write_bytes(dc.public_key_pem)
    print(f'MTProto:  {dc.host}:{dc.port} (DC {dc.dc_id})')
    print(f'Control:  http://{dc.host}:{dc.control_port}')
    print(f'Key:      {args.public_key_out.resolve()}')
    print(f'Limits:   {limits}')
    if args.demo:
        demo = dc.world.seed_demo()
        print('Demo:     ' + json.dumps(demo, default=str))
    print('\nEnvironment for Parsegram:')
    print('TELEGRAM_API_ID=1')
    print('TELEGRAM_API_HASH=any')
    print(f'TELEGRAM_DC={dc.host}:{dc.port}')
    print(f'TELEGRAM_DC_ID={dc.dc_id}')
    print(f'TELEGRAM_PUBLIC_KEY={args.public_key_out.resolve()}', flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    publisher = None
    if args.demo and args.publish_every > 0:
        channels = [info['channel_id'] for info in demo['channels'] if info['posts'] and info['username']]
        publisher = asyncio.create_task(publish_now_and_then(dc.world, channels, args.publish_every, stop))
    await stop.wait()
    if publisher is not None:
        await publisher
    await dc.stop()


DEMO_NEWS = (
    'Breaking: the demo city council approved the new bike lanes. Details: https://example.org/bikes #city',
    'Новости демо-канала: открылась новая библиотека. Подробности: https://example.org/library #город',
    'Weekly digest: five links worth reading this week. #digest',
    'Обновление: курс демо-валюты вырос на 0,5 %. #экономика',
    'Release notes for version 2.4 are out: faster sync, fewer bugs. #release',
)


async def publish_now_and_then(world: World, channels: list[int], every: float, stop: asyncio.Event) -> None:
    """Keep the demo alive: a new post every `every` seconds, round the channels, until `stop` is set."""
    count = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            channel = channels[count % len(channels)]
            world.post_message(channel, DEMO_NEWS[count % len(DEMO_NEWS)], views=1 + count)
            count += 1


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    asyncio.run(serve(args))


if __name__ == '__main__':
    main()
