import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.db.models import Channel, MediaSummary, Post
from app.feed_consumers import FeedReader
from app.search.index import SearchIndex
from app.search.service import SearchService
from tests.support import store_posts

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def post(channel_id: int, message_id: int, text: str, **fields) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=BASE + timedelta(hours=message_id), text=text,
                **fields)


def photo() -> MediaSummary:
    return MediaSummary(type='photo', mime_type='image/jpeg', size=1000)


class Searching:
    """A search index over the test database, as the app keeps one: a feed reader that polls quickly."""

    def __init__(self, repos, data_dir) -> None:
        self.repos = repos
        self.index = SearchIndex(repos, data_dir)
        self.service = SearchService(repos, self.index)
        self.reader = FeedReader(repos.feed, self.index, batch=200, poll_seconds=0.02)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.reader.run())
        await self.current()

    async def current(self, timeout: float = 30) -> None:
        """Until the index holds everything written so far."""
        async def reached() -> None:
            while self.index.status.state != 'ready' or self.reader.position < await self.repos.feed.head():
                if self.task is not None and self.task.done():
                    self.task.result()
                await asyncio.sleep(0.01)
        await asyncio.wait_for(reached(), timeout)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.index.close()

    async def found(self, q: str = '', **options) -> list[int]:
        from app.search.service import SearchRequest
        page = await self.service.search(SearchRequest(q=q, limit=100, **options))
        return [item.message_id for item in page.items]


@pytest.fixture
async def channels(repos):
    for channel_id, title, username, tags in ((10, 'Space news', 'spacenews', ['news']),
                                              (20, 'Космос', 'kosmos_ru', ['ru']),
                                              (30, 'Quiet', None, [])):
        await repos.channels.upsert_metadata(Channel(id=channel_id, title=title, username=username))
        await repos.channels.add_tags([channel_id], tags)
    return repos


@pytest.fixture
async def searching(repos, tmp_path):
    found = Searching(repos, tmp_path / 'data')
    yield found
    await found.stop()


__all__ = ['BASE', 'Searching', 'photo', 'post', 'store_posts']
