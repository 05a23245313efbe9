"""A channel's three charts: posts per day, average views per post and subscribers. Every day of the window has
its place (a quiet day is a zero, not a missing bar), numbers and dates are written in the page's language, a chart
without enough data says so instead of drawing an empty frame, and the charts follow the channel's writes."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel, MetricKind, utcnow
from app.db.posts_repo import newest_hint
from app.events import PostsStored
from app.i18n import _, current_language, n_
from app.pages.give_way import GiveWay
from app.pages.live import Later, subscribe_while_open

if TYPE_CHECKING:
    from app.root import Root

DAYS = 90
REFRESH_SECONDS = 10.0  # while a backfill writes, the charts are redrawn at most this often
DAILY_KEPT_SECONDS = 300.0  # views change without a new post: the days are read again after this long
_DAILY: dict[int, tuple[tuple, float, list]] = {}  # channel id → (what it was read for, when, the days)


def day_range(anchor: datetime, days: int = DAYS) -> list[str]:
    """Every day of the window ending on `anchor`, oldest first, as the database names them (YYYY-MM-DD)."""
    last = anchor.date()
    return [(last - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def filled(days: list[str], points: list[tuple[str, float]], empty: float | None) -> list[float | None]:
    values = dict(points)
    return [values.get(day, empty) for day in days]


def chart_options(title: str, kind: str, labels: list[str], values: list[float | None], name: str,
                  *, dates_only: bool) -> dict[str, Any]:
    """ECharts options; labels and numbers are formatted in the browser in the page's language."""
    language = json.dumps(current_language())
    date_format = '{month: "short", day: "numeric", timeZone: "UTC"}' if dates_only \
        else '{month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}'
    return {
        'title': {'text': title, 'textStyle': {'fontSize': 13}},
        'tooltip': {'trigger': 'axis', ':valueFormatter': f'v => v == null ? "–" : v.toLocaleString({language})'},
        'grid': {'left': 55, 'right': 12, 'top': 35, 'bottom': 25},
        'xAxis': {'type': 'category', 'data': labels,
                  'axisLabel': {':formatter': f'v => new Date(v).toLocaleDateString({language}, {date_format})'}},
        'yAxis': {'type': 'value', 'minInterval': 1,
                  'axisLabel': {':formatter': f'v => v.toLocaleString({language})'}},
        'series': [{'type': kind, 'name': name, 'data': values, 'showSymbol': len(values) < 3,
                    'connectNulls': False}],
    }


class Chart:
    """One chart's card: the chart when there is enough to draw, else a sentence saying what is missing."""

    def __init__(self, title: str, marker: str) -> None:
        self.title = title
        with ui.card().classes('w-full md:w-[32%] p-2 min-w-0').props('flat bordered'):
            self.chart = ui.echart({'title': {'text': title}}, renderer='svg') \
                .classes('w-full h-56 pg-chart').mark(marker)
            with ui.column().classes('w-full h-56 items-center justify-center gap-1 p-4 text-center') as self.note:
                ui.label(title).classes('font-medium')
                self.reason = ui.label().classes('text-sm text-grey-7').mark(f'{marker}-too-little')
        self.chart.set_visibility(False)

    def show(self, options: dict[str, Any] | None, reason: str = '') -> None:
        self.chart.set_visibility(options is not None)
        self.note.set_visibility(options is None)
        self.reason.set_text(reason)
        if options is not None and options != self.chart.options:
            self.chart.options.clear()
            self.chart.options.update(options)
            self.chart.update()


class ChannelCharts:
    def __init__(self, root: Root, channel: Channel, give_way: GiveWay | None = None) -> None:
        self.root = root
        self.channel = channel
        self.give_way = give_way or GiveWay()
        self.posts = Chart(_('Posts per day'), 'chart-posts')
        self.views = Chart(_('Average views per post'), 'chart-views')
        self.subscribers = Chart(_('Subscribers'), 'chart-subscribers')
        self._later = Later(REFRESH_SECONDS, self.load, 'charts follow')
        subscribe_while_open(root, PostsStored, self._written)

    async def load(self) -> None:
        posts = self.root.repos.posts
        channel = await self.root.repos.channels.get(self.channel.id) or self.channel
        newest, _cursor = await posts.page(channel_id=channel.id, limit=1, newest_hint=newest_hint(channel))
        now = utcnow()
        # the window ends today; a channel quiet for longer than the window shows its last active months
        anchor = newest[0].date if newest and newest[0].date < now - timedelta(days=DAYS) else now
        days = day_range(anchor)
        daily = await self._daily(channel, anchor)
        per_day = [(day, n) for day, n, _views in daily]
        if per_day:
            self.posts.show(chart_options(self.posts.title, 'bar', days, filled(days, per_day, 0), _('posts'),
                                          dates_only=True))
        else:
            self.posts.show(None, _('No posts stored yet.'))
        views = [(day, value) for day, _n, value in daily if value is not None]
        if len(views) >= 2:
            self.views.show(chart_options(self.views.title, 'line', days, filled(days, views, None), _('views'),
                                          dates_only=True))
        else:
            self.views.show(None, _('Too little data yet: views are charted once posts of two days are stored.'))
        series = [(m.at, m.values.get('subscribers')) for m in
                  await self.root.repos.metrics.series(channel_id=channel.id, kind=MetricKind.CHANNEL)]
        series = [(at, value) for at, value in series if value is not None]
        if len(series) >= 2:
            self.subscribers.show(chart_options(
                self.subscribers.title, 'line', [at.isoformat() for at, _value in series],
                [value for _at, value in series], _('subscribers'), dates_only=False))
        elif series:
            self.subscribers.show(None, n_('One measurement so far: {n} subscriber. The line starts with the next.',
                                           'One measurement so far: {n} subscribers. The line starts with the next.',
                                           int(series[0][1])))
        else:
            self.subscribers.show(None, _('No measurement yet: subscribers are counted with each sync.'))

    async def _daily(self, channel: Channel, anchor: datetime) -> list[tuple[str, int, float | None]]:
        """The window's days, read again only when the channel's posts changed or a while has passed: on a large
        channel the read takes seconds of the database, which a page opened again should not pay twice."""
        key = (channel.id, channel.state.posts_stored, anchor.date())
        kept = _DAILY.get(channel.id)
        if kept is not None and kept[0] == key and time.monotonic() - kept[1] < DAILY_KEPT_SECONDS:
            return kept[2]
        daily = await self.root.repos.posts.daily(channel_id=channel.id, now=anchor, days=DAYS,
                                                  between=self.give_way.clear)
        _DAILY[channel.id] = (key, time.monotonic(), daily)
        return daily

    def _written(self, event: PostsStored) -> None:
        if event.channel_id == self.channel.id:
            self._later.soon()

