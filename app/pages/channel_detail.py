"""/dashboard/channels/{id}: metadata and totals, charts, the searchable posts list and exports of the filter."""
from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from nicegui import app, ui

from app.db.models import Channel, MetricKind, Post
from app.db.posts_repo import PostFilter, newest_hint
from app.export import FORMATS, export_filename, post_link, stream_export
from app.i18n import _, lazy, n_, number, render, translate_text
from app.mtproto.refs import MAX_CHANNEL_ID
from app.pages.channel_widgets import (
    AvatarSlot,
    JobControls,
    ProgressLine,
    history_incomplete,
    history_text,
    show_status,
    subscribers_text,
)
from app.pages.chrome import titled
from app.pages.layout import frame
from app.pages.live import ChannelEvents
from app.pages.relative_time import RelativeTime

if TYPE_CHECKING:
    from app.root import Root

PAGE_SIZE = 30
INTERVALS = {60: lazy('every minute'), 300: lazy('every 5 min'), 900: lazy('every 15 min'), 3600: lazy('every hour'),
             0: lazy('off')}


def _day(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, '%Y-%m-%d').date()
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def post_filter(q: str | None, since: str | None, until: str | None, has_media: bool | None) -> PostFilter:
    return PostFilter(q=(q or '').strip() or None, since=_day(since), until=_day(until, end=True),
                      has_media=has_media)


def _chart(title: str, kind: str, points: list[tuple[str, float]], name: str, marker: str) -> None:
    with ui.card().classes('w-full md:w-[32%] p-2 min-w-0').props('flat bordered'):
        ui.echart({
            'title': {'text': title, 'textStyle': {'fontSize': 13}},
            'tooltip': {'trigger': 'axis'},
            'grid': {'left': 50, 'right': 10, 'top': 35, 'bottom': 25},
            'xAxis': {'type': 'category', 'data': [p[0] for p in points]},
            'yAxis': {'type': 'value'},
            'series': [{'type': kind, 'name': name, 'data': [p[1] for p in points], 'showSymbol': False}],
        }, renderer='svg').classes('w-full h-56 pg-chart').mark(marker)


class PostsList:
    def __init__(self, root: Root, channel: Channel) -> None:
        self.root = root
        self.channel = channel
        self.before_id: int | None = None
        with ui.card().classes('w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-end gap-3 pg-wrap'):
                self.q = ui.input(_('Search words')).props('clearable outlined dense debounce=400') \
                    .classes('grow pg-full').mark('post-search')
                self.since = ui.input(_('From')).props('type=date outlined dense').classes('pg-share') \
                    .mark('post-since')
                self.until = ui.input(_('To')).props('type=date outlined dense').classes('pg-share') \
                    .mark('post-until')
                self.has_media = ui.select({None: _('All posts'), True: _('With media'), False: _('Without media')},
                                           value=None).props('outlined dense').classes('pg-share').mark('post-media')
                self.export_csv = ui.button('CSV', icon='download').props('outline').mark('export-csv')
                self.export_jsonl = ui.button('JSONL', icon='download').props('outline').mark('export-jsonl')
            self.summary = ui.label().classes('text-sm text-grey-7').mark('posts-summary')
            self.items = ui.column().classes('w-full gap-2').mark('posts-list')
            self.more = ui.button(_('Load more'), on_click=self.load_more).props('flat').mark('load-more')
        for element in (self.q, self.since, self.until, self.has_media):
            element.on_value_change(self.reload)
        self.export_csv.on_click(lambda: self.download('csv'))
        self.export_jsonl.on_click(lambda: self.download('jsonl'))

    def current_filter(self) -> PostFilter:
        return post_filter(self.q.value, self.since.value, self.until.value, self.has_media.value)

    def export_url(self, fmt: str) -> str:
        params = {'format': fmt}
        for key, value in (('q', self.q.value), ('since', self.since.value), ('until', self.until.value)):
            if value:
                params[key] = value
        if self.has_media.value is not None:
            params['has_media'] = str(self.has_media.value).lower()
        return f'/dashboard/channels/{self.channel.id}/export?{urlencode(params)}'

    def download(self, fmt: str) -> None:
        ui.download(self.export_url(fmt))

    async def reload(self) -> None:
        self.before_id = None
        self.items.clear()
        await self.load_more()
        current = self.current_filter()
        if current == PostFilter():  # the unfiltered total is kept by the sync jobs; counting would read them all
            total = self.channel.state.posts_stored
        else:
            total = await self.root.repos.posts.count(channel_id=self.channel.id, filter=current)
        self.summary.set_text(n_('{n} post matches', '{n} posts match', total))

    async def load_more(self) -> None:
        posts, self.before_id = await self.root.repos.posts.page(
            channel_id=self.channel.id, limit=PAGE_SIZE, before_id=self.before_id, filter=self.current_filter(),
            newest_hint=newest_hint(self.channel))
        with self.items:
            for post in posts:
                self.post_card(post)
        self.more.set_visibility(self.before_id is not None)

    def post_card(self, post: Post) -> None:
        with ui.card().classes('w-full py-2 px-3 gap-1').props('flat bordered').mark(f'post-{post.message_id}'):
            with ui.row().classes('w-full items-center gap-x-2 gap-y-0 text-sm text-grey-7'):
                ui.link(post.date.strftime('%Y-%m-%d %H:%M'), post_link(self.channel, post.message_id),
                        new_tab=True).mark('post-link')
                if post.edit_date:
                    ui.label(_('edited'))
                if post.deleted:
                    ui.badge(_('deleted'), color='negative')
                if post.pinned:
                    ui.icon('push_pin')
                if post.media:
                    ui.badge(post.media.type, color='grey-6')
                ui.space()
                counters = (('visibility', post.views, _('views')), ('shortcut', post.forwards, _('forwards')),
                            ('chat_bubble_outline', post.replies, _('replies')))
                for icon, value, meaning in counters:
                    with titled(ui.row(), meaning).classes('items-center gap-1 no-wrap'):
                        ui.icon(icon, size='xs')
                        ui.label(number(value or 0))
                if post.reactions:
                    ui.label('  '.join(f'{r.emoji} {r.count}' for r in post.reactions[:6]))
            if post.text:
                ui.label(post.text).classes('whitespace-pre-wrap break-words').mark('post-text')


def register(root: Root) -> None:
    @app.get('/dashboard/channels/{channel_id}/export', include_in_schema=False)
    async def export_for_browser(channel_id: int, format: str = 'csv', q: str | None = None, since: str | None = None,
                                 until: str | None = None, has_media: bool | None = None) -> StreamingResponse:
        # The auth middleware lets only the admin session reach this route (it is not under /api).
        if format not in FORMATS:
            raise HTTPException(400, 'format must be csv or jsonl')
        channel = await root.repos.channels.get(channel_id)
        if channel is None:
            raise HTTPException(404, 'no such channel')
        posts = root.repos.posts.stream(channel_id=channel_id, filter=post_filter(q, since, until, has_media),
                                            newest_hint=newest_hint(channel))
        return StreamingResponse(
            stream_export(channel, posts, format), media_type=FORMATS[format],
            headers={'Content-Disposition': f'attachment; filename="{export_filename(channel, format)}"'})

    @ui.page('/dashboard/channels/{channel_id}')
    async def channel_page(channel_id: int) -> None:
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
            with header_box:
                ui.spinner(size='lg').mark('channel-loading')
        # Build the heavier parts once the browser is connected, so a busy database never times the page out.
        await ui.context.client.connected()
        header_box.clear()
        with header_box:
            channel_header = ChannelHeader(root, channel)
            await channel_header.refresh()
        with charts_box:
            # Charts end at the newest post, so a quiet channel still shows its last active months.
            newest, _cursor = await root.repos.posts.page(channel_id=channel.id, limit=1,
                                                        newest_hint=newest_hint(channel))
            anchor = newest[0].date if newest else None
            per_day = await root.repos.posts.posts_per_day(channel_id=channel.id, now=anchor)
            views = await root.repos.posts.views_per_day(channel_id=channel.id, now=anchor)
            subscribers = [(m.at.strftime('%Y-%m-%d %H:%M'), m.values.get('subscribers', 0))
                           for m in await root.repos.metrics.series(channel_id=channel.id,
                                                                        kind=MetricKind.CHANNEL)]
            _chart(_('Posts per day'), 'bar', per_day, _('posts'), 'chart-posts')
            _chart(_('Average views per post'), 'line', views, _('views'), 'chart-views')
            _chart(_('Subscribers'), 'line', subscribers, _('subscribers'), 'chart-subscribers')
        with posts_box:
            posts = PostsList(root, channel)
        await posts.reload()


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
                        .props('dense outlined').classes('w-36').mark('sync-interval')
        self.stats: dict[str, Any] = {}
        self.events = ChannelEvents(root, self.refresh, channel_id=channel.id)

    async def refresh(self, _changed: set[int] | None = None) -> None:
        channel = await self.root.repos.channels.get(self.channel.id)
        if channel is not None:  # deleted meanwhile: the page keeps what it showed
            self.show(channel, await self.root.sync.channel_stats(channel))

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

    async def set_interval(self, event: Any) -> None:
        seconds = int(event.value)
        await self.root.sync.set_schedule(self.channel.id, enabled=seconds > 0, interval_seconds=seconds or None)
        ui.notify(_('Sync schedule saved'))
