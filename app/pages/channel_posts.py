"""A channel's searchable posts list: filters kept in the page URL, pages loaded on demand, and the list following
the channel's writes as they happen (new posts on top, edits and deletions redrawn in place, the count kept true)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from nicegui import ui
from nicegui.events import GenericEventArguments

from app.db.models import Channel, Post
from app.db.posts_repo import PostFilter, newest_hint
from app.events import PostsStored
from app.export import post_link
from app.i18n import _, lazy, n_, number, render
from app.pages.give_way import GiveWay
from app.pages.live import Later, subscribe_while_open
from app.pages.post_versions import MEDIA_NAMES, VersionsDialog

if TYPE_CHECKING:
    from app.root import Root

PAGE_SIZE = 30
FOLLOW_SECONDS = 0.3  # the writes of one batch make one redraw
VERSIONS_CLICKED = '(e) => { const m = e.target.closest("[data-versions]"); if (m) emit(Number(m.dataset.versions)); }'
MEDIA_CHOICES = {'': lazy('All posts'), 'true': lazy('With media'), 'false': lazy('Without media')}


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


def filter_params(q: str | None, since: str | None, until: str | None, media: str | None) -> dict[str, str]:
    """The filters as URL parameters (only those set; a malformed date is left out)."""
    values = {'q': (q or '').strip()[:200], 'since': since if _day(since) else '',
              'until': until if _day(until) else '', 'media': media if media in ('true', 'false') else ''}
    return {name: value for name, value in values.items() if value}


class PostsList:
    def __init__(self, root: Root, channel: Channel, params: dict[str, str], give_way: GiveWay | None = None) -> None:
        self.root = root
        self.channel = channel
        self.give_way = give_way or GiveWay()
        self.before_id: int | None = None
        self.cards: dict[int, ui.html] = {}  # message id → its card, newest first on the page
        with ui.card().classes('w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-end gap-3 pg-wrap'):
                self.q = ui.input(_('Search words'), value=params.get('q', '')) \
                    .props('clearable outlined dense debounce=400').classes('grow pg-full').mark('post-search')
                self.since = ui.input(_('From'), value=params.get('since', '')) \
                    .props('type=date outlined dense').classes('pg-share').mark('post-since')
                self.until = ui.input(_('To'), value=params.get('until', '')) \
                    .props('type=date outlined dense').classes('pg-share').mark('post-until')
                self.media = ui.select({key: render(text) for key, text in MEDIA_CHOICES.items()},
                                       value=params.get('media', '')) \
                    .props('outlined dense').classes('pg-share').mark('post-media')
                self.with_versions = ui.checkbox(_('with earlier versions')).mark('export-versions')
                self.export_csv = ui.button('CSV', icon='download').props('outline').mark('export-csv')
                self.export_jsonl = ui.button('JSONL', icon='download').props('outline').mark('export-jsonl')
            self.summary = ui.label().classes('text-sm text-grey-7').mark('posts-summary')
            self.items = ui.column().classes('w-full gap-2').mark('posts-list')
            # one listener for every card's "edited N times" (a click, or Enter on it): the cards are plain HTML
            for event in ('click', 'keydown.enter'):
                self.items.on(event, self._versions_clicked, js_handler=VERSIONS_CLICKED)
            self.versions = VersionsDialog(root)
            self.more = ui.button(_('Load more'), on_click=self.load_more).props('flat').mark('load-more')
        for element in (self.q, self.since, self.until, self.media):
            element.on_value_change(self.filters_changed)
        self.export_csv.on_click(lambda: self.download('csv'))
        self.export_jsonl.on_click(lambda: self.download('jsonl'))
        self._new: set[int] = set()
        self._changed: set[int] = set()
        self._stored: int | None = None
        self._following = asyncio.Lock()
        self._later = Later(FOLLOW_SECONDS, self._follow_written, 'posts list follows')
        self.subscription = subscribe_while_open(root, PostsStored, self._written)

    def close(self) -> None:
        self.subscription.close()

    # ------------------------------------------------------------ filters and pages

    def params(self) -> dict[str, str]:
        return filter_params(self.q.value, self.since.value, self.until.value, self.media.value)

    def current_filter(self) -> PostFilter:
        media = self.media.value
        return post_filter(self.q.value, self.since.value, self.until.value,
                           None if media not in ('true', 'false') else media == 'true')

    def export_url(self, fmt: str) -> str:
        params = {'format': fmt, **self.params()}
        if 'media' in params:
            params['has_media'] = params.pop('media')
        if self.with_versions.value:
            params['versions'] = 'true'
        return f'/dashboard/channels/{self.channel.id}/export?{urlencode(params)}'

    def download(self, fmt: str) -> None:
        ui.download(self.export_url(fmt))
        ui.notify(_('Export started: the file downloads as it is written.'))

    async def filters_changed(self) -> None:
        """The filters live in the page URL, so a search can be bookmarked, shared and reloaded."""
        params = self.params()
        ui.navigate.history.replace(f'/dashboard/channels/{self.channel.id}'
                                    + (f'?{urlencode(params)}' if params else ''))
        await self.reload()

    async def reload(self) -> None:
        self.before_id = None
        self.items.clear()
        self.cards.clear()
        await self.load_more()
        await self.count()

    async def count(self, stored: int | None = None) -> None:
        current = self.current_filter()
        if current == PostFilter():  # the unfiltered total is kept by the sync jobs; counting would read them all
            if stored is None:
                channel = await self.root.repos.channels.get(self.channel.id)
                stored = channel.state.posts_stored if channel is not None else len(self.cards)
            total = max(stored, len(self.cards))
        else:
            total = await self.root.repos.posts.count(channel_id=self.channel.id, filter=current)
        self.summary.set_text(n_('{n} post matches', '{n} posts match', total))

    async def load_more(self) -> None:
        async with self.give_way.asked():
            posts, self.before_id = await self.root.repos.posts.page(
                channel_id=self.channel.id, limit=PAGE_SIZE, before_id=self.before_id, filter=self.current_filter(),
                newest_hint=newest_hint(self.channel))
        with self.items:
            for post in posts:
                if post.message_id not in self.cards:
                    self.cards[post.message_id] = self.post_card(post)
        self.more.set_visibility(self.before_id is not None)

    # ------------------------------------------------------------ following the channel's writes

    def _written(self, event: PostsStored) -> None:
        if event.channel_id != self.channel.id:
            return
        self._new.update(event.new)
        self._changed.update(event.edited + event.deleted)
        if event.posts_stored is not None:
            self._stored = event.posts_stored
        self._later.soon()

    async def _follow_written(self) -> None:
        async with self._following:
            new, self._new = self._new, set()
            changed, self._changed = self._changed, set()
            stored, self._stored = self._stored, None
            await self.follow(new, changed, stored)

    async def follow(self, new: set[int], changed: set[int], stored: int | None) -> None:
        """Posts written since the page was drawn: newer ones go on top (when they match), older ones wait behind
        "Load more", edited and deleted ones are redrawn where they are; the count follows."""
        posts = self.root.repos.posts
        for message_id in sorted(changed & set(self.cards)):
            post = await posts.get(channel_id=self.channel.id, message_id=message_id)
            if post is not None:
                self.cards[message_id].set_content(self.card_html(post))
        if new and not self.cards:
            await self.load_more()  # the first posts of a backfill
        elif new:
            top, bottom = max(self.cards), min(self.cards)
            if max(new) > top:
                await self._add_newer(top)
            if min(new) < bottom and self.before_id is None:
                self.before_id = bottom  # older posts stored behind the last one shown
                self.more.set_visibility(True)
        if new or changed:
            await self.count(stored)

    async def _add_newer(self, top: int) -> None:
        newest, _more = await self.root.repos.posts.page(channel_id=self.channel.id, limit=PAGE_SIZE,
                                                         filter=self.current_filter(), newest_hint=0)
        newer = [post for post in newest if post.message_id > top]
        if len(newer) == len(newest) and len(newest) == PAGE_SIZE:
            await self.reload()  # more arrived than a page: start again from the newest
            return
        for post in reversed(newer):  # the oldest of them first, so the newest ends on top
            with self.items:
                card = self.cards[post.message_id] = self.post_card(post)
            card.move(target_index=0)

    async def _versions_clicked(self, event: GenericEventArguments) -> None:
        await self.versions.open(self.channel.id, int(event.args))

    # ------------------------------------------------------------ one post

    def post_card(self, post: Post) -> ui.html:
        """One post as one element: a page of 30 posts is 30 elements to send and mount, not 400."""
        return ui.html(self.card_html(post), sanitize=False).classes('pg-post') \
            .props(f'data-post={post.message_id}').mark(f'post-{post.message_id}')

    def card_html(self, post: Post) -> str:
        deleted, pinned, versions, edited = _('deleted'), _('pinned'), _('versions'), _('edited')
        counters = (('visibility', post.views, _('views')), ('shortcut', post.forwards, _('forwards')),
                    ('chat_bubble_outline', post.replies, _('replies')))
        head = [f'<a class="nicegui-link" href="{escape(post_link(self.channel, post.message_id))}" target="_blank" '
                f'rel="noopener" data-mark="post-link">{post.date:%Y-%m-%d %H:%M}</a>']
        if post.edits:  # opens the versions, word by word
            times = n_('edited {n} time', 'edited {n} times', post.edits)
            head.append(f'<span class="pg-versions-link" role="button" tabindex="0" data-versions="{post.message_id}" '
                        f'data-mark="post-edited">{escape(times)}</span>')
        elif post.version > 1:  # deleted (or back again) without an edit: its versions still tell when
            head.append(f'<span class="pg-versions-link" role="button" tabindex="0" data-versions="{post.message_id}" '
                        f'data-mark="post-versions">{escape(versions)}</span>')
        elif post.edit_date:  # edited on Telegram before Parsegram first saw it
            head.append(f'<span>{escape(edited)}</span>')
        if post.deleted:
            head.append(f'<span class="q-badge bg-negative text-white pg-badge" data-mark="post-deleted">'
                        f'{escape(deleted)}</span>')
        if post.pinned:
            head.append(f'<i class="material-icons" title="{escape(pinned)}">push_pin</i>')
        if post.media:
            media = render(MEDIA_NAMES.get(post.media.type, post.media.type))
            head.append(f'<span class="q-badge bg-grey-7 text-white pg-badge">{escape(media)}</span>')
        head.append('<span class="pg-spacer"></span>')
        for icon, value, meaning in counters:
            head.append(f'<span class="pg-counter" title="{escape(meaning)}"><i class="material-icons" '
                        f'aria-hidden="true">{icon}</i>{escape(number(value or 0))}</span>')
        if post.reactions:
            reactions = '  '.join(f'{r.emoji} {r.count}' for r in post.reactions[:6])
            head.append(f'<span>{escape(reactions)}</span>')
        text = f'<div class="pg-post-text" data-mark="post-text">{escape(post.text)}</div>' if post.text else ''
        return f'<div class="pg-post-head">{"".join(head)}</div>{text}'
