"""Dashboard: the channels page and list API with --channels stored channels (1,000 by default).

Parsegram runs as it does in production (`python -m app`, its own process) against SecantusDB (a subprocess on
disk) and the test DC (in a thread of this process); pages are opened in headless Chromium, one tab per page.

Prints:
- the page's first render: from asking for /dashboard/channels to its first page of rows in the browser;
- the app's CPU share (of one core) with no page open, with one and with five channels pages open at idle,
  and with one page open while one channel is backfilled;
- DOM mutations a second in an open page, at idle and during that backfill;
- `GET /api/mtproto/channels` p50/p95 against a bare pymongo read of the same page of channel documents;
- a channel's page with --posts stored posts (100,000 by default) while another channel is backfilled: the time
  from asking for it to its first posts in the browser, and "Load more" to the next 30, beside the API's own time
  for the same 30 posts (`GET /api/mtproto/channels/{id}/posts`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from pymongo import ASCENDING, MongoClient
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from telethon.crypto import rsa

from app.db.embedded import free_port
from app.db.models import Channel, Post, utcnow
from app.db.posts_repo import PostsRepo
from bench.ingest import start_database
from tests.telegram_dc.pytest_plugin import API_HASH, API_ID, DcHandle
from tests.telegram_dc.server import TelegramDC

PASSWORD = 'bench dashboard password 1'
TOKEN = f'bench-{secrets.token_urlsafe(16)}'
PHOTO = 'data:image/jpeg;base64,' + 'A' * 1500  # about the size of a real channel's small photo
COUNT_MUTATIONS = """
window.mutations = 0;
new MutationObserver(records => { window.mutations += records.length; })
    .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def seed(uri: str, db: str, count: int) -> None:
    now = utcnow()
    docs = []
    for n in range(count):
        channel = Channel(id=5_000_000 + n, title=f'Bench channel {n:04d}', username=f'bench_list_{n:04d}',
                          participants_count=(n * 7919) % 250_000, photo=PHOTO, tags=['news'] if n % 3 else [])
        channel.state.posts_stored = (n * 104_729) % 50_000
        channel.state.last_synced_at = now - timedelta(minutes=n % 90)
        channel.state.last_post_at = now - timedelta(hours=n % 200)
        channel.state.backfilled = True
        channel.state.next_sync_at = now + timedelta(days=30)  # no scheduled syncs during the run
        docs.append(channel.to_doc())
    client: MongoClient = MongoClient(uri)
    client[db].channels.insert_many(docs)
    client.close()


BIG_CHANNEL = 6_000_000


def seed_posts(uri: str, db: str, count: int) -> None:
    """A channel with `count` posts of the last two years, written straight into the database."""
    now = utcnow()
    span = timedelta(days=730) / count
    client: MongoClient = MongoClient(uri)
    channel = Channel(id=BIG_CHANNEL, title='Bench big channel', username='bench_big', participants_count=120_000)
    channel.state.posts_stored = count
    channel.state.backfilled = True
    channel.state.last_message_id = channel.state.top_message_id = count
    channel.state.last_synced_at = now
    channel.state.next_sync_at = now + timedelta(days=30)
    client[db].channels.insert_one(channel.to_doc())
    words = ['новости', 'канал', 'рынок', 'погода', 'город', 'спорт', 'market', 'report', 'video', 'update']
    for first in range(1, count + 1, 5000):
        posts = [Post(channel_id=BIG_CHANNEL, message_id=n, date=now - span * (count - n), views=(n * 37) % 90_000,
                      forwards=n % 50, replies=n % 7,
                      text=f'{words[n % 10]} {words[(n * 3) % 10]} {words[(n * 7) % 10]} пост номер {n}')
                 for n in range(first, min(count, first + 4999) + 1)]
        client[db].posts.insert_many(PostsRepo.prepare(posts), ordered=False)
    client.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def cpu_share(pid: int, seconds: float) -> float:
    start, began = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start) / (time.monotonic() - began)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = os.environ.get('CHROMIUM_BINARY', '/usr/bin/chromium')
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--window-size=1280,900', '--disable-background-timer-throttling',
                     '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')),
                              options=options)
    driver.set_page_load_timeout(60)
    return driver


def wait(condition, timeout: float = 60.0, what: str = '') -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise SystemExit(f'not seen within {timeout:.0f} s: {what}')


def rows_shown(driver: webdriver.Chrome) -> int:
    return driver.execute_script('return document.querySelectorAll("[data-channel]").length')


def open_page(driver: webdriver.Chrome, base: str) -> float:
    """Open the channels page in the current tab; seconds until its first page of rows is there."""
    start = time.perf_counter()
    driver.get(f'{base}/dashboard/channels')
    wait(lambda: rows_shown(driver) >= 50, what='a page of 50 rows')
    return time.perf_counter() - start


def cards_shown(driver: webdriver.Chrome) -> int:
    return driver.execute_script('return document.querySelectorAll("[data-post]").length')


def time_channel_page(driver: webdriver.Chrome, base: str, api: httpx.Client, rounds: int) -> dict[str, list[float]]:
    """The big channel's page: open it until its first 30 posts show; "Load more" until 60 show; and the API's
    answer for the same two pages."""
    times: dict[str, list[float]] = {'open': [], 'more': [], 'api_first': [], 'api_more': []}
    for _ in range(rounds):
        start = time.perf_counter()
        driver.get(f'{base}/dashboard/channels/{BIG_CHANNEL}')
        wait(lambda: cards_shown(driver) >= 30, what='the first 30 posts')
        times['open'].append(time.perf_counter() - start)
        button = driver.find_element(By.XPATH, "//button[.//span[normalize-space()='Load more']]")
        start = time.perf_counter()
        button.click()
        wait(lambda: cards_shown(driver) >= 60, what='30 more posts')
        times['more'].append(time.perf_counter() - start)
        for name, params in (('api_first', {'limit': 30}), ('api_more', {'limit': 30, 'before_id': 100_000 - 29})):
            start = time.perf_counter()
            answer = api.get(f'/api/mtproto/channels/{BIG_CHANNEL}/posts', params=params)
            times[name].append(time.perf_counter() - start)
            assert answer.status_code == 200 and len(answer.json()['items']) == 30, answer.text
    return times


def mutations_per_second(driver: webdriver.Chrome, seconds: float) -> float:
    driver.execute_script(COUNT_MUTATIONS)
    time.sleep(seconds)
    return driver.execute_script('return window.mutations') / seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench dashboard', description=__doc__)
    parser.add_argument('--channels', type=int, default=1000)
    parser.add_argument('--window', type=float, default=20.0, help='seconds each CPU and mutation figure is taken over')
    parser.add_argument('--requests', type=int, default=200, help='list API calls (and bare reads) to time')
    parser.add_argument('--posts', type=int, default=100_000, help='posts of the big channel whose page is timed')
    parser.add_argument('--rounds', type=int, default=5, help="times the big channel's page is opened")
    args = parser.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix='parsegram-bench-'))
    db_process, uri = start_database(data / 'db')
    server = TelegramDC(limits='off').start_in_thread()
    app_process = None
    drivers: list[webdriver.Chrome] = []
    try:
        rsa.add_key(server.public_key_pem.decode(), old=False)
        key = data / 'public_key.pem'
        key.write_bytes(server.public_key_pem)
        dc = DcHandle(server, key)
        seed(uri, 'parsegram', args.channels)
        seed_posts(uri, 'parsegram', args.posts)
        port = free_port()
        base = f'http://127.0.0.1:{port}'
        env = {**os.environ, 'MONGO_URI': uri, 'MONGO_DB': 'parsegram', 'DATA_DIR': str(data / 'app'),
               'PORT': str(port), 'ADMIN_PASSWORD': PASSWORD, 'API_TOKEN': TOKEN, 'LOG_LEVEL': 'WARNING',
               'TELEGRAM_API_ID': str(API_ID), 'TELEGRAM_API_HASH': API_HASH,
               'TELEGRAM_DC': f'{dc.host}:{dc.port}', 'TELEGRAM_DC_ID': str(dc.dc_id),
               'TELEGRAM_PUBLIC_KEY': str(key)}
        app_process = subprocess.Popen([sys.executable, '-m', 'app'], env=env, stdout=subprocess.DEVNULL)
        api = httpx.Client(base_url=base, headers={'Authorization': f'Bearer {TOKEN}'}, timeout=30)
        wait(lambda: _healthy(api), what='the app to start')
        phone = dc.new_phone(5)
        dc.create_user(phone, 'Bench reader')
        started = wait(lambda: _started(api, phone), what='the login to start')
        verified = api.post('/api/mtproto/auth/verify', json={'account_id': started['account_id'], 'code': '55555'})
        assert verified.json().get('status') == 'authorized', verified.text

        reads = time_list_reads(api, uri, args.requests)
        time.sleep(2)
        idle_none = cpu_share(app_process.pid, args.window)

        drivers.append(browser())
        first = drivers[0]
        first.get(f'{base}/login')
        first.find_element(By.CSS_SELECTOR, 'input[type=password]').send_keys(PASSWORD + Keys.ENTER)
        wait(lambda: '/dashboard' in first.current_url, what='the login')
        renders = [open_page(first, base) for _ in range(3)]
        idle_mutations = mutations_per_second(first, args.window)
        idle_one = cpu_share(app_process.pid, args.window)
        for _ in range(4):
            first.switch_to.new_window('tab')
            open_page(first, base)
        idle_five = cpu_share(app_process.pid, args.window)
        for handle in first.window_handles[1:]:
            first.switch_to.window(handle)
            first.close()
        first.switch_to.window(first.window_handles[0])

        dc.create_channel('Bench busy', username='bench_busy', posts=20_000, seed=61)
        added = api.post('/api/mtproto/channels', json={'ref': '@bench_busy'})
        assert added.status_code == 201, added.text
        wait(lambda: api.get(f'/api/mtproto/channels/{added.json()["id"]}').json()['stats']['sync_status']
             == 'backfilling', what='the backfill to run')
        busy_mutations = mutations_per_second(first, args.window)
        busy_one = cpu_share(app_process.pid, args.window)
        reloaded = first.execute_script('return window.mutations === undefined')
        page_times = time_channel_page(first, base, api, args.rounds)
        still = api.get(f'/api/mtproto/channels/{added.json()["id"]}').json()['stats']['sync_status']
    finally:
        for driver in drivers:
            driver.quit()
        if app_process is not None:
            app_process.terminate()
            app_process.wait(30)
        server.stop_thread()
        db_process.terminate()
        db_process.wait(15)
        shutil.rmtree(data, ignore_errors=True)

    print(f'{args.channels:,} channels; the app as its own process, SecantusDB subprocess on disk, test DC in a '
          f'thread, headless Chromium; each share over {args.window:g} s, of one core')
    print(f'first render of /dashboard/channels: {statistics.median(renders):.2f} s (median of 3; goal <= 2 s)')
    print(f'app CPU, no page open:               {idle_none:6.1%}')
    print(f'app CPU, one page open, idle:        {idle_one:6.1%}   (goal <= 5 %)')
    print(f'app CPU, five pages open, idle:      {idle_five:6.1%}   (goal <= 15 %)')
    print(f'app CPU, one page open, a backfill:  {busy_one:6.1%}   (backfill still {still} at the end)')
    print(f'DOM mutations/s, idle:               {idle_mutations:6.1f}   (goal <= 5)')
    print(f'DOM mutations/s, a backfill:         {busy_mutations:6.1f}   page reloaded by itself: '
          f'{"yes" if reloaded else "no"}')
    p50 = {name: percentile(values, 0.5) * 1000 for name, values in reads.items()}
    p95 = {name: percentile(values, 0.95) * 1000 for name, values in reads.items()}
    print(f'{"GET /api/mtproto/channels, 50 a page":<42}: p50 {p50["api"]:6.1f} ms, p95 {p95["api"]:6.1f} ms '
          f'(goal p95 <= 50 ms)')
    for name, text in (('by_id', 'bare pymongo, the same 50 documents by id'),
                       ('sorted', 'bare pymongo, count + sorted page')):
        print(f'{text:<42}: p50 {p50[name]:6.1f} ms, p95 {p95[name]:6.1f} ms   API / this: p50 '
              f'{p50["api"] / p50[name]:.2f}, p95 {p95["api"] / p95[name]:.2f}')
    p50 = {name: statistics.median(values) * 1000 for name, values in page_times.items()}
    worst = {name: max(values) * 1000 for name, values in page_times.items()}
    print(f'a channel page of {args.posts:,} posts while another channel is backfilled (backfill still {still}); '
          f'median and worst of {args.rounds}:')
    print(f'  open until its first 30 posts show: {p50["open"]:7.0f} ms, worst {worst["open"]:7.0f} ms '
          f'(goal <= 1000 ms)')
    print(f'  "Load more" until 30 more show:     {p50["more"]:7.0f} ms, worst {worst["more"]:7.0f} ms '
          f'(goal <= 300 ms)')
    print(f'  API, the same first 30 posts:       {p50["api_first"]:7.0f} ms   page / API: '
          f'{p50["open"] / p50["api_first"]:.1f}')
    print(f'  API, the same next 30 posts:        {p50["api_more"]:7.0f} ms   page / API: '
          f'{p50["more"] / p50["api_more"]:.1f}')
    return 0


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get('/api/health').status_code == 200
    except httpx.HTTPError:
        return False


def _started(api: httpx.Client, phone: str) -> dict | None:
    answer = api.post('/api/mtproto/auth/start', json={'phone': phone})
    if answer.status_code == 503:  # the app is still starting its parts
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()


def time_list_reads(api: httpx.Client, uri: str, requests: int) -> dict[str, list[float]]:
    """The list API's first page; pymongo reading the same 50 documents by id; and pymongo asking the database
    for that page itself (count, sort by title, limit), as the list did before it kept an index."""
    client: MongoClient = MongoClient(uri)
    collection = client['parsegram'].channels
    times: dict[str, list[float]] = {'api': [], 'by_id': [], 'sorted': []}
    for n in range(requests + 10):
        start = time.perf_counter()
        answer = api.get('/api/mtproto/channels', params={'limit': 50})
        api_seconds = time.perf_counter() - start
        assert answer.status_code == 200 and len(answer.json()['items']) == 50, answer.text
        ids = [item['id'] for item in answer.json()['items']]
        start = time.perf_counter()
        assert len(list(collection.find({'_id': {'$in': ids}}))) == 50
        by_id = time.perf_counter() - start
        start = time.perf_counter()
        collection.count_documents({})
        assert len(list(collection.find({}).sort([('title', ASCENDING), ('_id', ASCENDING)]).limit(50))) == 50
        in_db = time.perf_counter() - start
        if n >= 10:  # the first calls warm both up
            for name, seconds in (('api', api_seconds), ('by_id', by_id), ('sorted', in_db)):
                times[name].append(seconds)
    client.close()
    return times
