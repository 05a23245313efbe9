"""All repositories in one object, built from one database handle."""
from __future__ import annotations

from dataclasses import dataclass, fields

from pymongo.asynchronous.database import AsyncDatabase

from app.alerts.repo import AlertsRepo
from app.db.accounts_repo import AccountsRepo
from app.db.admin_repo import AdminRepo
from app.db.api_tokens_repo import ApiTokensRepo
from app.db.change_feed import ChangeFeed
from app.db.channel_refs_repo import ChannelRefsRepo
from app.db.channels_repo import ChannelsRepo
from app.db.comments_repo import CommentsRepo
from app.db.completeness_repo import CompletenessRepo
from app.db.jobs_repo import JobsRepo
from app.db.media_repo import MediaRepo
from app.db.metrics_repo import MetricsRepo
from app.db.post_versions import PostVersionsRepo
from app.db.post_writer import PostWriter
from app.db.posts_repo import PostsRepo
from app.webhooks.event_log import EventLog
from app.webhooks.repo import WebhooksRepo


@dataclass
class Repos:
    admin: AdminRepo
    api_tokens: ApiTokensRepo
    accounts: AccountsRepo
    channels: ChannelsRepo
    posts: PostsRepo
    metrics: MetricsRepo
    jobs: JobsRepo
    channel_refs: ChannelRefsRepo
    versions: PostVersionsRepo
    feed: ChangeFeed
    writer: PostWriter  # every post write goes through it
    completeness: CompletenessRepo
    media: MediaRepo  # kept files (GridFS) and which post shows which
    comments: CommentsRepo
    comment_writer: PostWriter  # every comment write goes through it
    webhooks: WebhooksRepo
    events_log: EventLog  # what webhooks deliver
    alerts: AlertsRepo  # alert rules, their matches, notifications

    @classmethod
    def create(cls, db: AsyncDatabase) -> Repos:
        channels, posts, versions, feed = ChannelsRepo(db), PostsRepo(db), PostVersionsRepo(db), ChangeFeed(db)
        comments = CommentsRepo(db)
        return cls(
            admin=AdminRepo(db),
            api_tokens=ApiTokensRepo(db),
            accounts=AccountsRepo(db),
            channels=channels,
            posts=posts,
            metrics=MetricsRepo(db),
            jobs=JobsRepo(db),
            channel_refs=ChannelRefsRepo(db),
            versions=versions,
            feed=feed,
            writer=PostWriter(db, posts, versions, feed, channels),
            completeness=CompletenessRepo(db),
            media=MediaRepo(db),
            comments=comments,
            comment_writer=PostWriter(db, comments, versions, feed, channels, source='comments'),
            webhooks=WebhooksRepo(db),
            events_log=EventLog(db),
            alerts=AlertsRepo(db),
        )

    async def ensure_indexes(self) -> None:
        for field in fields(self):
            await getattr(self, field.name).ensure_indexes()
