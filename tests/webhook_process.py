"""Another Parsegram process on the same database, for the webhooks' tests: the post writer, the change feed's
webhook outbox and the webhook senders, as the app runs them.

python -m tests.webhook_process URI DATABASE OWNER CHANNEL_ID FIRST_ID POSTS: stores POSTS new posts, five at a time,
and delivers to the webhooks it claims until its stdin closes; then stops as the app does and prints "stopped".
"""
from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from app.clock import SystemClock
from app.crypto import SecretBox
from app.db.models import Post
from app.db.posts_repo import PostsRepo
from app.db.repos import Repos
from app.feed_consumers import FeedConsumers
from app.webhooks.addresses import AddressPolicy
from app.webhooks.outbox import WebhookOutbox
from app.webhooks.sender import WebhookSenders

BOX = SecretBox('webhook-process')
BASE = datetime(2026, 1, 1, tzinfo=UTC)


async def main(uri: str, database: str, owner: str, channel_id: int, first_id: int, posts: int) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    repos = Repos.create(client[database])
    consumers = FeedConsumers(repos.feed, repos.writer, repos.comment_writer)
    consumers.add(WebhookOutbox(repos, repos.events_log, repos.webhooks), poll_seconds=0.2)
    senders = WebhookSenders(repo=repos.webhooks, log=repos.events_log, secret_box=BOX, policy=AddressPolicy('true'),
                             clock=SystemClock(), owner_id=owner)
    await consumers.start()
    await senders.start()
    try:
        for start in range(first_id, first_id + posts, 5):
            batch = [Post(channel_id=channel_id, message_id=m, date=BASE + timedelta(minutes=m), text=f'post {m}')
                     for m in range(start, min(start + 5, first_id + posts))]
            await repos.writer.store(channel_id, PostsRepo.prepare(batch))
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await senders.stop()
        await consumers.stop()
        await client.close()
    print('stopped')


if __name__ == '__main__':
    uri, database, owner, channel, first, posts = sys.argv[1:7]
    asyncio.run(main(uri, database, owner, int(channel), int(first), int(posts)))
