"""Search: Parsegram's search index against SQLite FTS5 on the same posts, and the app's search and post lists.

--posts posts (1,000,000 by default) over --channels channels (100), two thirds in Russian and a third in English,
with a Zipf word distribution over real word forms (pymorphy3's lexemes; English with its regular endings), a long
tail of rare words, hashtags and a few set phrases; one channel holds --big posts (100,000). They are made through
the app's own mapping (`PostsRepo.prepare`) and written straight into SecantusDB (a subprocess on disk).

Prints:
- the index build rate (analysis and Tantivy, in this process) and its size on disk; SQLite FTS5's the same;
- p50/p95 of a ranked top-50 for a common word, a rare word, a phrase, a prefix and a filtered query, through the
  engine and through FTS5, and their ratio;
- recall on word forms: for each of a set of Russian and English words, the share of the posts holding any of its
  forms that a search for each form finds (the least over its forms), beside FTS5's (exact forms);
- Parsegram itself (`python -m app`, its own process): its rebuild of the index from the database at start, and
  `GET /api/mtproto/search` end to end for the same queries;
- the big channel's post list (newest 50, and a page deep in its history) p50/p95 through the API, and its JSONL
  export through the API against a bare pymongo cursor over the same documents.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from bisect import bisect
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient, MongoClient

from app.db.embedded import free_port
from app.db.models import Channel, MediaSummary, Post
from app.db.posts_repo import PostsRepo
from app.db.repos import Repos
from app.search.engine import Scope, Sort
from app.search.index import SearchIndex, indexed_post
from app.search.query import parse
from app.search.tantivy_engine import TantivyEngine
from bench.dashboard import percentile, wait
from bench.ingest import start_database

TOKEN = f'bench-{secrets.token_urlsafe(16)}'
FIRST_CHANNEL = 7_000_000
BIG = FIRST_CHANNEL  # the channel with --big posts
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 5_000

RU_LEMMAS = (
    'канал новость ракета город человек время год день страна мир власть война президент правительство закон '
    'рынок цена деньги банк компания работа проект система вопрос решение дело слово место сторона жизнь '
    'область регион район улица дом школа университет студент учёный наука исследование данные отчёт '
    'запуск спутник станция космос орбита корабль полёт экипаж миссия двигатель топливо испытание '
    'погода дождь снег мороз ветер солнце море река лес поле дорога мост поезд самолёт аэропорт машина '
    'выборы голосование партия депутат министр суд дело полиция армия граница санкция нефть газ энергия '
    'телефон интернет сеть сайт приложение пользователь сообщение видео фото музыка фильм книга театр '
    'матч команда игрок тренер чемпионат турнир победа поражение счёт гол болельщик стадион сезон '
    'врач больница лечение вакцина болезнь здоровье пациент лекарство '
    'сообщить заявить решить начать получить сделать строить запустить увидеть показать').split()
RU_FILLER = 'и в на с по не что это как из за к от для о до при уже также ещё очень'.split()
EN_WORDS = (
    'channel news rocket city people time year day country world power government law market price money '
    'bank company work project system question decision place side life region street house school student '
    'science research data report launch satellite station space orbit ship flight crew mission engine fuel '
    'test weather rain snow wind sun sea river forest road bridge train plane airport car election vote party '
    'minister court police army border oil gas energy phone internet network site app user message video photo '
    'music film book theater match team player coach game win loss goal fan stadium season doctor hospital '
    'vaccine health patient drug announce decide start build show watch report').split()
EN_FILLER = 'the a of and to in is for on with as at by from it this that'.split()
VERBS = {'launch', 'announce', 'decide', 'start', 'build', 'show', 'watch', 'report', 'test', 'vote', 'work', 'win'}
PHRASES = ('последние новости', 'запуск ракеты', 'курс доллара', 'breaking news', 'space station')
RECALL_RU = ('канал', 'ракета', 'новость', 'город', 'спутник', 'выборы', 'сообщить', 'запустить')
RECALL_EN = ('rocket', 'launch', 'channel', 'vote')


def english_forms(word: str) -> list[str]:
    plural = word + ('es' if word.endswith(('ch', 'sh', 's', 'x')) else 's')
    if word not in VERBS:
        return [word, plural]
    stem = word[:-1] if word.endswith('e') else word
    doubled = stem + stem[-1] if word in ('win',) else stem
    return [word, plural, doubled + 'ed' if word != 'win' else 'won', doubled + 'ing']


def vocabulary(rng: random.Random) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    import pymorphy3
    morph = pymorphy3.MorphAnalyzer(lang='ru')
    russian = {}
    for lemma in RU_LEMMAS:
        forms = sorted({form.word for form in morph.parse(lemma)[0].lexeme if form.word.isalpha()})
        russian[lemma.replace('ё', 'е')] = forms
    english = {word: english_forms(word) for word in EN_WORDS}
    syllables = [c + v for c in 'бвгдзклмнпрстфх' for v in 'аеиоуя']
    tail = sorted({''.join(rng.choice(syllables) for _ in range(rng.randint(3, 4))) for _ in range(6_000)})
    return russian, english, tail


class Corpus:
    """Posts with a Zipf distribution of words; remembers which posts hold a form of the recall words."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.russian, self.english, self.tail = vocabulary(self.rng)
        self.ru_words = list(self.russian)
        self.en_words = list(self.english)
        self.ru_weights = list(accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(self.ru_words))))
        self.en_weights = list(accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(self.en_words))))
        self.tail_weights = list(accumulate(1 / (rank + 1) ** 1.2 for rank in range(len(self.tail))))
        self.tail_count: Counter[str] = Counter()
        self.holding: dict[str, set[tuple[int, int]]] = {w: set() for w in RECALL_RU + RECALL_EN}
        self.recall_forms = {**{w: self.russian[w] for w in RECALL_RU}, **{w: self.english[w] for w in RECALL_EN}}
        self.form_owner = {form: word for word, forms in self.recall_forms.items() for form in forms}

    def _pick(self, words: list[str], weights: list[float]) -> str:
        return words[bisect(weights, self.rng.random() * weights[-1])]

    def text(self, russian: bool) -> str:
        rng = self.rng
        out = []
        for _ in range(rng.randint(8, 60)):
            roll = rng.random()
            if roll < 0.35:
                out.append(rng.choice(RU_FILLER if russian else EN_FILLER))
            elif roll < 0.37:
                word = self._pick(self.tail, self.tail_weights)
                self.tail_count[word] += 1
                out.append(word)
            elif russian:
                out.append(rng.choice(self.russian[self._pick(self.ru_words, self.ru_weights)]))
            else:
                out.append(rng.choice(self.english[self._pick(self.en_words, self.en_weights)]))
        if rng.random() < 0.03:
            out.insert(rng.randrange(len(out)), rng.choice(PHRASES[:3] if russian else PHRASES[3:]))
        if rng.random() < 0.1:
            out.append('#' + rng.choice(self.ru_words if russian else self.en_words))
        return ' '.join(out).capitalize() + '.'

    def posts(self, channel_id: int, count: int, russian: bool, first: int = 1, total: int | None = None) -> list[Post]:
        """Posts `first`, `first + 1`, … of a channel of `total` posts spread over two years."""
        rng = self.rng
        total = total or count
        span = timedelta(days=730) / max(total, 1)
        found = []
        for n in range(first, first + count):
            text = self.text(russian)
            for word in text.lower().rstrip('.').split():
                owner = self.form_owner.get(word)
                if owner:
                    self.holding[owner].add((channel_id, n))
            media = MediaSummary(type=rng.choice(('photo', 'video', 'document'))) if rng.random() < 0.2 else None
            found.append(Post(channel_id=channel_id, message_id=n, date=NOW - span * (total - n), text=text,
                              views=int(rng.lognormvariate(7, 1.5)), forwards=rng.randint(0, 50), media=media))
        return found


async def _ensure_indexes(uri: str) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    await Repos.create(client['parsegram']).ensure_indexes()
    await client.close()


async def _rebuild(uri: str, data: Path) -> tuple[int, float]:
    """The app's own rebuild from the database (SearchIndex.rebuild), timed."""
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    repos = Repos.create(client['parsegram'])
    index = SearchIndex(repos, data / 'rebuild')
    started = time.perf_counter()
    await index.rebuild(repos.feed)
    took = time.perf_counter() - started
    posts = index.status.posts
    await index.close()
    await client.close()
    return posts, took


def build(args: argparse.Namespace, corpus: Corpus, uri: str, data: Path) -> dict:
    asyncio.run(_ensure_indexes(uri))  # the database as the app keeps it
    client: MongoClient = MongoClient(uri)
    db = client['parsegram']
    engine = TantivyEngine(data / 'bench-index')
    fts = sqlite3.connect(data / 'fts.sqlite')
    fts.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    fts.execute('CREATE TABLE meta (id INTEGER PRIMARY KEY, channel_id INTEGER, date INTEGER, views INTEGER)')
    sizes = [args.big] + [(args.posts - args.big) // (args.channels - 1)] * (args.channels - 1)
    timings = {'engine': 0.0, 'fts': 0.0, 'write': 0.0}
    made = 0
    for index, size in enumerate(sizes):
        channel_id = FIRST_CHANNEL + index
        russian = index % 3 != 2
        channel = Channel(id=channel_id, title=f'Bench {index:03d}', username=f'bench_search_{index:03d}')
        channel.state.posts_stored = size
        channel.state.backfilled = True
        channel.state.last_message_id = channel.state.top_message_id = size
        channel.state.next_sync_at = NOW + timedelta(days=3650)
        db.channels.insert_one(channel.to_doc())
        for first in range(1, size + 1, BATCH):
            posts = corpus.posts(channel_id, min(BATCH, size - first + 1), russian, first, size)
            docs = PostsRepo.prepare(posts)
            started = time.perf_counter()
            db.posts.insert_many(docs, ordered=False)
            timings['write'] += time.perf_counter() - started
            started = time.perf_counter()
            engine.upsert([indexed_post(doc) for doc in docs])
            timings['engine'] += time.perf_counter() - started
            started = time.perf_counter()
            rows = [(post_key(doc), doc['text']) for doc in docs]
            fts.executemany('INSERT INTO fts (rowid, text) VALUES (?, ?)', rows)
            fts.executemany('INSERT INTO meta VALUES (?, ?, ?, ?)', [
                (post_key(doc), doc['channel_id'], int(doc['date'].timestamp()), doc.get('views') or 0)
                for doc in docs])
            timings['fts'] += time.perf_counter() - started
            made += len(docs)
            if made % 100_000 < BATCH:
                print(f'  {made:,} posts made', file=sys.stderr, flush=True)
    started = time.perf_counter()
    engine.commit(0)
    engine.close()
    timings['engine'] += time.perf_counter() - started
    started = time.perf_counter()
    fts.commit()
    timings['fts'] += time.perf_counter() - started
    fts.close()
    client.close()
    return {'posts': made, **timings, 'index_bytes': directory_bytes(data / 'bench-index'),
            'fts_bytes': (data / 'fts.sqlite').stat().st_size}


def post_key(doc: dict) -> int:
    return (doc['channel_id'] - FIRST_CHANNEL) * 2**31 + doc['message_id']


def directory_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob('*') if item.is_file())


def queries(corpus: Corpus) -> dict[str, tuple[str, str, dict]]:
    """name → (Parsegram's query, FTS5's MATCH, filters)."""
    common = corpus.russian[corpus.ru_words[0]][0]
    rare = min(corpus.tail_count, key=lambda word: (abs(corpus.tail_count[word] - 20), word))  # in about 20 posts
    channels = [FIRST_CHANNEL + n for n in range(1, 11)]
    since = NOW - timedelta(days=180)
    return {
        'common word': (common, common, {}),
        'rare word': (rare, rare, {}),
        'phrase': ('"запуск ракеты"', '"запуск ракеты"', {}),
        'prefix': ('ракет*', 'ракет*', {}),
        'filtered': (common, common, {'channel_ids': channels, 'since': since, 'min_views': 500}),
    }


def time_it(call, rounds: int) -> tuple[float, float]:
    call()
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    return percentile(took, 0.5), percentile(took, 0.95)


def engine_queries(engine: TantivyEngine, fts: sqlite3.Connection, corpus: Corpus, rounds: int) -> dict:
    found = {}
    for name, (ours, theirs, filters) in queries(corpus).items():
        scope = Scope(channel_ids=filters.get('channel_ids'), since=filters.get('since'),
                      min_views=filters.get('min_views'))
        parsed = parse(ours)
        engine_time = time_it(lambda p=parsed, s=scope: engine.search(p, s, Sort.RELEVANCE, 0, 50), rounds)
        if filters:
            sql = ('SELECT f.rowid FROM fts f JOIN meta m ON m.id = f.rowid WHERE fts MATCH ? AND m.channel_id IN '
                   f'({",".join(map(str, filters["channel_ids"]))}) AND m.date >= ? AND m.views >= ? '
                   'ORDER BY rank LIMIT 50')
            params = (theirs, int(filters['since'].timestamp()), filters['min_views'])
        else:
            sql, params = 'SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 50', (theirs,)
        fts_time = time_it(lambda q=sql, p=params: fts.execute(q, p).fetchall(), max(5, rounds // 5))
        total = engine.search(parsed, scope, Sort.RELEVANCE, 0, 1).total
        found[name] = {'query': ours, 'matches': total, 'engine': engine_time, 'fts': fts_time}
    return found


def recall(engine: TantivyEngine, fts: sqlite3.Connection, corpus: Corpus) -> dict:
    found = {}
    for word, forms in corpus.recall_forms.items():
        holding = corpus.holding[word]
        holding_keys = {(c - FIRST_CHANNEL) * 2**31 + m for c, m in holding}
        ours, theirs = [], []
        for form in forms:
            every = engine.search(parse(form), Scope(), Sort.RELEVANCE, 0, 1).total
            hits = engine.search(parse(form), Scope(), Sort.RELEVANCE, 0, every).hits
            keys = {(h.channel_id, h.message_id) for h in hits}
            ours.append(len(keys & holding) / len(holding) if holding else 1.0)
            rows = {row[0] for row in fts.execute('SELECT rowid FROM fts WHERE fts MATCH ?', (f'"{form}"',))}
            theirs.append(len(rows & holding_keys) / len(holding) if holding else 1.0)
        found[word] = {'posts': len(holding), 'forms': len(forms), 'ours': min(ours), 'fts': min(theirs)}
    return found


def app_figures(args: argparse.Namespace, corpus: Corpus, uri: str, data: Path) -> dict:
    port = free_port()
    env = {**os.environ, 'MONGO_URI': uri, 'MONGO_DB': 'parsegram', 'DATA_DIR': str(data / 'app'),
           'PORT': str(port), 'ADMIN_PASSWORD': 'bench search password 1', 'API_TOKEN': TOKEN,
           'LOG_LEVEL': 'WARNING'}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, '-m', 'app'], env=env, stdout=subprocess.DEVNULL)
    api = httpx.Client(base_url=f'http://127.0.0.1:{port}', headers={'Authorization': f'Bearer {TOKEN}'},
                       timeout=120)
    try:
        wait(lambda: _ready(api), timeout=3600, what='the app to start and index the posts')
        found: dict = {'start_seconds': time.monotonic() - started, 'search': {}}
        for name, (ours, _, filters) in queries(corpus).items():
            params: dict = {'q': ours, 'limit': 50}
            if filters:
                params.update(channel_ids=filters['channel_ids'], since=filters['since'].date().isoformat(),
                              min_views=filters['min_views'])
            found['search'][name] = time_it(
                lambda p=params: api.get('/api/mtproto/search', params=p).raise_for_status(), args.rounds)
        found['newest'] = time_it(lambda: api.get(f'/api/mtproto/channels/{BIG}/posts', params={'limit': 50})
                                  .raise_for_status(), args.rounds)
        deep = args.big // 5
        found['deep'] = time_it(lambda: api.get(f'/api/mtproto/channels/{BIG}/posts',
                                                params={'limit': 50, 'before_id': deep}).raise_for_status(),
                                args.rounds)
        started_export = time.perf_counter()
        lines = 0
        with api.stream('GET', f'/api/mtproto/channels/{BIG}/export', params={'format': 'jsonl'}) as answer:
            for _ in answer.iter_lines():
                lines += 1
        found['export_rate'] = lines / (time.perf_counter() - started_export)
        client: MongoClient = MongoClient(uri)
        started_bare = time.perf_counter()
        bare = sum(1 for _ in client['parsegram'].posts.find({'channel_id': BIG}, batch_size=1000))
        found['bare_rate'] = bare / (time.perf_counter() - started_bare)
        client.close()
        return found
    finally:
        process.terminate()
        process.wait(30)


def _ready(api: httpx.Client) -> bool:
    try:
        state = api.get('/api/mtproto/search/index')
    except httpx.HTTPError:
        return False
    return state.status_code == 200 and state.json()['state'] == 'ready' and state.json()['posts'] > 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench search', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--posts', type=int, default=1_000_000)
    parser.add_argument('--channels', type=int, default=100)
    parser.add_argument('--big', type=int, default=100_000, help='posts of the channel whose list is timed')
    parser.add_argument('--rounds', type=int, default=50, help='times each query is timed')
    parser.add_argument('--seed', type=int, default=35)
    args = parser.parse_args(argv)
    args.big = min(args.big, args.posts // 2)

    data = Path(tempfile.mkdtemp(prefix='parsegram-bench-'))
    db_process, uri = start_database(data / 'db')
    try:
        corpus = Corpus(args.seed)
        built = build(args, corpus, uri, data)
        engine = TantivyEngine(data / 'bench-index')
        fts = sqlite3.connect(data / 'fts.sqlite')
        searched = engine_queries(engine, fts, corpus, args.rounds)
        recalled = recall(engine, fts, corpus)
        engine.close()
        fts.close()
        built['rebuilt'], built['rebuild'] = asyncio.run(_rebuild(uri, data))
        app = app_figures(args, corpus, uri, data)
    finally:
        db_process.terminate()
        db_process.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    report(args, built, searched, recalled, app)
    return 0


def report(args: argparse.Namespace, built: dict, searched: dict, recalled: dict, app: dict) -> None:
    posts = built['posts']
    print(f'{posts:,} posts over {args.channels} channels (the big one: {args.big:,})')
    print(f'index build: Parsegram {posts / built["engine"]:,.0f} posts/s, {built["index_bytes"] / 2**20:,.0f} MB; '
          f'FTS5 {posts / built["fts"]:,.0f} posts/s, {built["fts_bytes"] / 2**20:,.0f} MB; '
          f'the database took them at {posts / built["write"]:,.0f} posts/s')
    print(f'rebuild from the database (SearchIndex.rebuild): {built["rebuilt"]:,} posts in {built["rebuild"]:.0f} s, '
          f'{built["rebuilt"] / built["rebuild"]:,.0f} posts/s; the app, started on this database with no index, '
          f'answered searches after {app["start_seconds"]:.0f} s')
    print('ranked top-50, ms p50/p95:')
    for name, figures in searched.items():
        (e50, e95), (f50, f95) = figures['engine'], figures['fts']
        a50, a95 = app['search'][name]
        print(f'  {name:12} {figures["query"]!r:30} {figures["matches"]:>9,} matches  engine {e50:6.1f}/{e95:6.1f}  '
              f'FTS5 {f50:8.1f}/{f95:8.1f}  FTS5/engine {f50 / max(e50, 0.001):6.0f}x  '
              f'API {a50:6.1f}/{a95:6.1f}')
    print("recall on word forms (least over each word's forms): Parsegram / FTS5")
    for word, figures in recalled.items():
        print(f'  {word:10} {figures["posts"]:>8,} posts, {figures["forms"]:>2} forms: '
              f'{figures["ours"]:6.1%} / {figures["fts"]:6.1%}')
    print(f'big channel list, ms p50/p95: newest 50 {app["newest"][0]:.1f}/{app["newest"][1]:.1f}, '
          f'deep page {app["deep"][0]:.1f}/{app["deep"][1]:.1f}')
    print(f'export JSONL {app["export_rate"]:,.0f} posts/s, bare cursor {app["bare_rate"]:,.0f} posts/s: '
          f'{app["export_rate"] / app["bare_rate"]:.2f}')
