"""/dashboard/channels/{id}: metadata and totals, charts, the searchable posts list and exports of the filter."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from nicegui import app, ui

from app.db.models import Channel
from app.export import FORMATS, channel_export
from app.i18n import _, file_size, lazy, n_, number, render, translate_text
from app.mtproto.refs import MAX_CHANNEL_ID
from app.pages.channel_charts import ChannelCharts
from app.pages.channel_media import MediaPolicyPanel
from app.pages.channel_posts import PostsList, filter_params, post_filter, search_problem, search_request
from app.pages.channel_proof import ChannelProof
from app.pages.channel_widgets import (
    AvatarSlot,
    JobControls,
    ProgressLine,
    history_incomplete,
    history_text,
    show_status,
    subscribers_text,
)
from app.pages.give_way import GiveWay
from app.pages.layout import frame
from app.pages.live import ChannelEvents
from app.pages.post_versions import MEDIA_NAMES
from app.pages.relative_time import RelativeTime
from app.search.query import QueryError
from app.search.service import IndexUnavailable, SearchRequestError

if TYPE_CHECKING:
    from app.root import Root

FIRST_PAINT_SECONDS = 1.0
INTERVALS = {60: lazy('every minute'), 300: lazy('every 5 min'), 900: lazy('every 15 min'), 3600: lazy('every hour'),
             0: lazy('off')}


def register(root: Root) -> None:
    @app.get('/dashboard/channels/{channel_id}/export', include_in_schema=False)
    async def export_for_browser(channel_id: int, format: str = 'csv', q: str | None = None, since: str | None = None,
                                 until: str | None = None, has_media: bool | None = None,
                                 versions: bool = False, comments: bool = False) -> StreamingResponse:
        # The auth middleware lets only the admin session reach this route (it is not under /api).
        if format not in FORMATS:
            raise HTTPException(400, 'format must be csv or jsonl')
        channel = await root.repos.channels.get(channel_id)
        if channel is None:
            raise HTTPException(404, 'no such channel')
        try:
            return await channel_export(root.repos, root.search, channel, format,
                                        post_filter(since, until, has_media),
                                        search_request(channel, q, since, until, has_media), versions=versions,
                                        comments=comments)
        except (QueryError, SearchRequestError, IndexUnavailable) as error:
            raise HTTPException(400, search_problem(error)) from None

    @ui.page('/dashboard/channels/{channel_id}')
    async def channel_page(channel_id: int, q: str = '', since: str = '', until: str = '', media: str = '',
                           at: int = 0) -> None:
        in_range = 0 < channel_id <= MAX_CHANNEL_ID  # beyond 64 bits the database driver would raise
        channel = await root.repos.channels.get(channel_id) if root.database.ready and in_range else None
        with frame(channel.title if channel else _('Channel')):
            if channel is None:
                ui.label(_('This channel is not stored (or the database is still starting).')) \
                    .mark('channel-missing')
                ui.button(_('Back to channels'), on_click=lambda: ui.navigate.to('/dashboard/channels'))
                return
            header_box = ui.column().classes('w-full')
            charts_box = ui.row().classes('w-full gap-2 no-wrap max-md:flex-wrap')
            posts_box = ui.column().classes('w-full')
        give_way = GiveWay()  # the charts' reads wait while the person's pages of posts load

        built_parts: list[ChannelHeader | PostsList] = []

        async def build() -> None:
            header_box.clear()
            posts_box.clear()
            with header_box:
                header = ChannelHeader(root, channel)
                built_parts.append(header)
                await header.refresh()
            with posts_box:
                posts = PostsList(root, channel, filter_params(q, since, until, media, at), give_way)
                built_parts.append(posts)
                await posts.reload()

        # The header and the first posts go out with the page itself when the database answers at once (a round
        # trip less before a person sees them); a slow database instead gets them after the browser connects, so
        # it never times the page out.
        try:
            async with asyncio.timeout(FIRST_PAINT_SECONDS):
                await build()
            built = True
        except TimeoutError:
            built = False
            for part in built_parts:  # what the slow attempt built follows no events: it is drawn again below
                part.close()
            header_box.clear()
            posts_box.clear()
            with header_box:
                ui.spinner(size='lg').mark('channel-loading')
        await ui.context.client.connected()
        if not built:
            await build()
        with charts_box:
            charts = ChannelCharts(root, channel, give_way)
        await charts.load()  # the heaviest reads, last


class ChannelHeader:
    """Metadata, totals, status and job buttons of one channel, updated in place as its events arrive."""

    def __init__(self, root: Root, channel: Channel) -> None:
        self.root = root
        self.channel = channel
        with ui.card().classes('w-full').props('flat bordered').mark('channel-header'):
            with ui.row().classes('w-full items-center no-wrap gap-4 pg-wrap'):
                self.avatar = AvatarSlot(size='xl')
                with ui.column().classes('gap-1 grow min-w-0 basis-0'):
                    if channel.username:
                        ui.link(f'@{channel.username}', f'https://t.me/{channel.username}', new_tab=True)
                    self.about = ui.label().classes('text-grey-8 whitespace-pre-wrap pg-break').mark('channel-about')
                with ui.column().classes('gap-0 items-end pg-full'):
                    self.subscribers = ui.label().mark('channel-subscribers')
                    self.stored = ui.label().mark('channel-posts')
                    self.files = ui.label().classes('text-grey-7 text-sm').mark('channel-storage')
                    self.synced = RelativeTime(template=_('synced {time}'), never=_('never synced')) \
                        .classes('text-grey-7 text-sm')
                    self.history = ui.label().classes('text-sm text-warning').mark('history-incomplete')
                    with ui.row().classes('items-center gap-1 no-wrap'):
                        self.badge = ui.badge().mark('channel-status')
                        self.controls = JobControls(root, channel.id, after=lambda: self.events.now(channel.id))
                    self.progress = ProgressLine()
                    self.error = ui.label().classes('text-sm text-negative').mark('channel-error')
                    current = channel.sync.interval_seconds if channel.sync.enabled else 0
                    options = {seconds: render(text) for seconds, text in INTERVALS.items()}
                    options.setdefault(current, _('every {seconds} s', seconds=current))
                    ui.select(options, value=current, label=_('Sync'), on_change=self.set_interval) \
                        .props('dense outlined').classes('min-w-[10rem]').mark('sync-interval')
            self.proof = ChannelProof(root, channel.id)
            self.media = MediaPolicyPanel(root, channel.id)
        self.stats: dict[str, Any] = {}
        self.events = ChannelEvents(root, self.refresh, channel_id=channel.id)

    def close(self) -> None:
        self.events.subscription.close()

    async def refresh(self, _changed: set[int] | None = None) -> None:
        channel = await self.root.repos.channels.get(self.channel.id)
        if channel is not None:  # deleted meanwhile: the page keeps what it showed
            self.show(channel, await self.root.sync.channel_stats(channel))
            self.show_storage(await self.root.repos.media.storage(channel.id))
            self.media.show(channel.media_policy, await self.root.repos.media.job(channel.id))
            await self.proof.refresh()

    def show(self, channel: Channel, stats: dict[str, Any]) -> None:
        self.channel, self.stats = channel, stats
        self.avatar.show(channel)
        self.about.set_text(channel.about or '')
        self.about.set_visibility(bool(channel.about))
        self.subscribers.set_text(subscribers_text(channel))
        self.stored.set_text(n_('{n} post stored', '{n} posts stored', channel.state.posts_stored))
        self.synced.show(channel.state.last_synced_at, never='' if stats.get('progress') else _('never synced'))
        incomplete = history_incomplete(channel, stats)
        self.history.set_visibility(incomplete)
        self.history.set_text(history_text(channel) if incomplete else '')
        show_status(self.badge, stats)
        self.controls.show(stats, channel)
        self.progress.show(stats)
        self.error.set_text(translate_text(channel.state.error or ''))
        self.error.set_visibility(not stats.get('progress') and bool(channel.state.error))

    def show_storage(self, by_type: dict[str, dict[str, int]]) -> None:
        """The files kept from the channel's posts: how many, how many bytes, by type."""
        count, size = sum(t['count'] for t in by_type.values()), sum(t['bytes'] for t in by_type.values())
        kinds = ', '.join(f'{render(MEDIA_NAMES.get(kind, kind))} {number(entry["count"])}'
                          for kind, entry in sorted(by_type.items(), key=lambda item: -item[1]['bytes']))
        self.files.set_text(n_('{n} file kept, {size}: {kinds}', '{n} files kept, {size}: {kinds}', count,
                               size=file_size(size), kinds=kinds) if count else '')
        self.files.set_visibility(count > 0)

    async def set_interval(self, event: Any) -> None:
        seconds = int(event.value)
        await self.root.sync.set_schedule(self.channel.id, enabled=seconds > 0, interval_seconds=seconds or None)
        ui.notify(_('Sync schedule saved'))
