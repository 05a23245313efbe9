"""All repositories in one object, built from one database handle."""
from __future__ import annotations

from dataclasses import dataclass, fields

from pymongo.asynchronous.database import AsyncDatabase

from app.db.accounts_repo import AccountsRepo
from app.db.admin_repo import AdminRepo
from app.db.api_tokens_repo import ApiTokensRepo
from app.db.channel_refs_repo import ChannelRefsRepo
from app.db.channels_repo import ChannelsRepo
from app.db.jobs_repo import JobsRepo
from app.db.metrics_repo import MetricsRepo
from app.db.posts_repo import PostsRepo


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

    @classmethod
    def create(cls, db: AsyncDatabase) -> Repos:
        return cls(
            admin=AdminRepo(db),
            api_tokens=ApiTokensRepo(db),
            accounts=AccountsRepo(db),
            channels=ChannelsRepo(db),
            posts=PostsRepo(db),
            metrics=MetricsRepo(db),
            jobs=JobsRepo(db),
            channel_refs=ChannelRefsRepo(db),
        )

    async def ensure_indexes(self) -> None:
        for field in fields(self):
            await getattr(self, field.name).ensure_indexes()
