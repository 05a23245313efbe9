"""A channel's searchable posts list: filters kept in the page URL, pages loaded on demand, and the list following
the channel's writes as they happen (new posts on top, edits and deletions redrawn in place, the count kept true)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from nicegui import ui
from nicegui.events import GenericEventArguments

from app.db.models import Channel, Post
from app.db.posts_repo import ID_CEILING, PostFilter, newest_hint
from app.events import PostsStored
from app.i18n import _, lazy, n_, render
from app.pages.give_way import GiveWay
from app.pages.live import Later, subscribe_while_open
from app.pages.media_files import keep_and_download
from app.pages.post_card import album_html, post_html
from app.pages.post_comments import CommentsDialog
from app.pages.post_versions import VersionsDialog
from app.search.engine import Sort
from app.search.query import MAX_QUERY_CHARS, QueryError
from app.search.service import IndexUnavailable, SearchRequest, SearchRequestError
from app.search.snippet import Matcher

if TYPE_CHECKING:
    from app.root import Root

PAGE_SIZE = 30
FOLLOW_SECONDS = 0.3  # the writes of one batch make one redraw
VERSIONS_CLICKED = '(e) => { const m = e.target.closest("[data-versions]"); if (m) emit(Number(m.dataset.versions)); }'
COMMENTS_CLICKED = ('(e) => { const m = e.target.closest("[data-comments]"); '
                    'if (m) emit({comments: Number(m.dataset.comments)}); }')
# a download link keeps its file with progress shown on the page, then downloads it (the plain link works too)
DOWNLOAD_CLICKED = ('(e) => { const m = e.target.closest("[data-download]"); '
                    'if (m) { e.preventDefault(); emit({download: Number(m.dataset.download)}); } }')
MEDIA_CHOICES = {'': lazy('All posts'), 'true': lazy('With media'), 'false': lazy('Without media')}


def _day(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, '%Y-%m-%d').date()
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def post_filter(since: str | None, until: str | None, has_media: bool | None) -> PostFilter:
    """The list's filter without a query (a query goes to the search index)."""
    return PostFilter(since=_day(since), until=_day(until, end=True), has_media=has_media)


def filter_params(q: str | None, since: str | None, until: str | None, media: str | None,
                  at: int | None = None) -> dict[str, str]:
    """The filters as URL parameters (only those set; a malformed date is left out)."""
    values = {'q': (q or '').strip()[:MAX_QUERY_CHARS], 'since': since if _day(since) else '',
              'until': until if _day(until) else '', 'media': media if media in ('true', 'false') else '',
              'at': str(at) if at and 0 < at < ID_CEILING else ''}
    return {name: value for name, value in values.items() if value}


def search_request(channel: Channel, q: str | None, since: str | None, until: str | None, has_media: bool | None,
                   *, limit: int = PAGE_SIZE, before_id: int | None = None) -> SearchRequest | None:
    """The search of a channel's posts for a query in the query language (None without one), newest first."""
    q = (q or '').strip()
    if not q:
        return None
    return SearchRequest(q=q, channel_ids=[channel.id], since=_day(since), until=_day(until, end=True),
                         has_media=has_media, sort=Sort.DATE, limit=limit, before_id=before_id)


def search_problem(error: Exception) -> str:
    """What is wrong with a search, for the page, in its language."""
    if isinstance(error, QueryError):
        return _('The query is malformed at column {column}: {problem}', column=error.column,
                 problem=render(error.message))
    if isinstance(error, SearchRequestError):
        return render(error.message)
    return _('The search index is opening; try again in a few seconds.')


class PostsList:
    def __init__(self, root: Root, channel: Channel, params: dict[str, str], give_way: GiveWay | None = None) -> None:
        self.root = root
        self.channel = channel
        self.give_way = give_way or GiveWay()
        self.at = int(params['at']) if params.get('at') else None  # opened at this post (from a search result)
        self.before_id: int | None = None
        self.matcher: Matcher | None = None
        self.search_total = 0
        self.cards: dict[int, ui.html] = {}  # message id → its card, newest first on the page
        self.albums: dict[int, list[Post]] = {}  # id() of an album's card → its posts (an album is one card)
        with ui.card().classes('w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-end gap-3 pg-wrap'):
                self.q = ui.input(_('Search words'), value=params.get('q', ''),
                                  placeholder=_('words, "a phrase", start*, -not, this OR that')) \
                    .props('clearable outlined dense debounce=400').classes('grow pg-full').mark('post-search')
                self.since = ui.input(_('From'), value=params.get('since', '')) \
                    .props('type=date outlined dense').classes('pg-share').mark('post-since')
                self.until = ui.input(_('To'), value=params.get('until', '')) \
                    .props('type=date outlined dense').classes('pg-share').mark('post-until')
                self.media = ui.select({key: render(text) for key, text in MEDIA_CHOICES.items()},
                                       value=params.get('media', '')) \
                    .props('outlined dense').classes('pg-share').mark('post-media')
                self.with_versions = ui.checkbox(_('with earlier versions')).mark('export-versions')
                self.with_comments = ui.checkbox(_('with comments')).mark('export-comments')
                self.with_comments.set_visibility(bool(channel.linked_chat_id))
                self.export_csv = ui.button('CSV', icon='download').props('outline').mark('export-csv')
                self.export_jsonl = ui.button('JSONL', icon='download').props('outline').mark('export-jsonl')
            self.summary = ui.label().classes('text-sm text-grey-7').mark('posts-summary')
            self.items = ui.column().classes('w-full gap-2').mark('posts-list')
            # one listener for every card's "edited N times" (a click, or Enter on it): the cards are plain HTML
            for event in ('click', 'keydown.enter'):
                self.items.on(event, self._versions_clicked, js_handler=VERSIONS_CLICKED)
            self.items.on('click', self._download_clicked, js_handler=DOWNLOAD_CLICKED)
            for event in ('click', 'keydown.enter'):
                self.items.on(event, self._comments_clicked, js_handler=COMMENTS_CLICKED)
            self.comments = CommentsDialog(root)
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
        return filter_params(self.q.value, self.since.value, self.until.value, self.media.value, self.at)

    def has_media(self) -> bool | None:
        media = self.media.value
        return None if media not in ('true', 'false') else media == 'true'

    def current_filter(self) -> PostFilter:
        """The filter of the list without a query (a query goes to the search index)."""
        return post_filter(self.since.value, self.until.value, self.has_media())

    def searching(self) -> bool:
        return bool((self.q.value or '').strip())

    def export_url(self, fmt: str) -> str:
        params = {'format': fmt, **self.params()}
        if 'media' in params:
            params['has_media'] = params.pop('media')
        if self.with_versions.value:
            params['versions'] = 'true'
        if self.with_comments.value:
            params['comments'] = 'true'
        return f'/dashboard/channels/{self.channel.id}/export?{urlencode(params)}'

    def download(self, fmt: str) -> None:
        ui.download(self.export_url(fmt))
        ui.notify(_('Export started: the file downloads as it is written.'))

    async def filters_changed(self) -> None:
        """The filters live in the page URL, so a search can be bookmarked, shared and reloaded."""
        self.at = None
        params = self.params()
        ui.navigate.history.replace(f'/dashboard/channels/{self.channel.id}'
                                    + (f'?{urlencode(params)}' if params else ''))
        await self.reload()

    async def reload(self) -> None:
        self.before_id = self.at + 1 if self.at else None
        self.items.clear()
        self.cards.clear()
        self.albums.clear()
        self.summary.classes(remove='text-negative')
        if await self.load_more():
            await self.count()

    async def count(self, stored: int | None = None) -> None:
        if self.searching():
            self.summary.set_text(n_('{n} post matches', '{n} posts match', self.search_total))
            return
        current = self.current_filter()
        if current == PostFilter():  # the unfiltered total is kept by the sync jobs; counting would read them all
            if stored is None:
                channel = await self.root.repos.channels.get(self.channel.id)
                stored = channel.state.posts_stored if channel is not None else len(self.cards)
            total = max(stored, len(self.cards))
        else:
            total = await self.root.repos.posts.count(channel_id=self.channel.id, filter=current)
        self.summary.set_text(n_('{n} post matches', '{n} posts match', total))

    async def load_more(self) -> bool:
        """The next page of posts; False when the search cannot run (the summary says why)."""
        request = search_request(self.channel, self.q.value, self.since.value, self.until.value, self.has_media(),
                                 before_id=self.before_id)
        if request is not None:
            try:
                page = await self.root.search.search(request)
            except (QueryError, SearchRequestError, IndexUnavailable) as error:
                self.summary.set_text(search_problem(error))
                self.summary.classes(add='text-negative')
                self.more.set_visibility(False)
                return False
            self.matcher = page.matcher
            if request.before_id is None:
                self.search_total = page.total
            posts = [item.post for item in page.items]
            self.before_id = posts[-1].message_id if posts and page.total > len(page.items) else None
        else:
            self.matcher = None
            async with self.give_way.asked():
                posts, self.before_id = await self.root.repos.posts.page(
                    channel_id=self.channel.id, limit=PAGE_SIZE, before_id=self.before_id,
                    filter=self.current_filter(), newest_hint=newest_hint(self.channel))
        with self.items:
            for post in posts:
                if post.message_id not in self.cards:
                    self._place(post)
        self.more.set_visibility(self.before_id is not None)
        return True

    def _place(self, post: Post, *, on_top: bool = False) -> None:
        """A post's card, or, for a post of an album whose card is its neighbour on the page, a place in that card."""
        neighbour = (self._top_card() if on_top else self._last_card()) if post.grouped_id else None
        album = self.albums.get(id(neighbour)) if neighbour is not None else None
        if album and album[0].grouped_id == post.grouped_id:
            album.append(post)
            self.cards[post.message_id] = neighbour
            neighbour.set_content(album_html(self.channel, album, matcher=self.matcher))
            return
        card = self.cards[post.message_id] = self.post_card(post)
        if post.grouped_id:
            self.albums[id(card)] = [post]
        if on_top:
            card.move(target_index=0)

    def _last_card(self) -> ui.html | None:
        children = self.items.default_slot.children
        return children[-1] if children else None  # type: ignore[return-value]

    def _top_card(self) -> ui.html | None:
        children = self.items.default_slot.children
        return children[0] if children else None  # type: ignore[return-value]

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
            if post is None:
                continue
            card = self.cards[message_id]
            album = self.albums.get(id(card))
            if album and len(album) > 1:
                album[:] = [post if p.message_id == message_id else p for p in album]
                card.set_content(album_html(self.channel, album, matcher=self.matcher))
            else:
                card.set_content(self.card_html(post))
        if self.searching():
            new = set()  # a search's results stay as found; edits are redrawn in place
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
                self._place(post, on_top=True)

    async def _versions_clicked(self, event: GenericEventArguments) -> None:
        if isinstance(event.args, int):
            await self.versions.open(self.channel.id, event.args)

    async def _comments_clicked(self, event: GenericEventArguments) -> None:
        if isinstance(event.args, dict) and isinstance(event.args.get('comments'), int):
            await self.comments.open(self.channel.id, event.args['comments'])

    async def _download_clicked(self, event: GenericEventArguments) -> None:
        if isinstance(event.args, dict) and isinstance(event.args.get('download'), int):
            await keep_and_download(self.root, self.channel, event.args['download'])

    # ------------------------------------------------------------ one post

    def post_card(self, post: Post) -> ui.html:
        """One post as one element: a page of 30 posts is 30 elements to send and mount, not 400."""
        return ui.html(self.card_html(post), sanitize=False).classes('pg-post') \
            .props(f'data-post={post.message_id}').mark(f'post-{post.message_id}')

    def card_html(self, post: Post) -> str:
        return post_html(self.channel, post, matcher=self.matcher)
