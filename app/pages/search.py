"""/dashboard/search: every stored channel searched at once. The query and every filter live in the page URL, so a
search can be bookmarked and shared; results come in pages, each with its snippet, and the whole result exports.
The index's state shows while it is rebuilt, with its progress."""
from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse
from nicegui import app, ui

from app.db.channel_list import ListEntry
from app.db.models import Channel
from app.export import FORMATS, download
from app.i18n import _, lazy, n_, number, render
from app.pages.channel_posts import search_problem
from app.pages.layout import frame
from app.pages.post_card import result_html
from app.pages.post_versions import MEDIA_NAMES
from app.search.engine import Sort
from app.search.query import MAX_QUERY_CHARS, MEDIA_TYPES, QueryError
from app.search.service import IndexUnavailable, SearchPage, SearchRequest, SearchRequestError

if TYPE_CHECKING:
    from app.root import Root

PAGE_SIZE = 20
SORTS = {'relevance': lazy('Best match'), 'date': lazy('Newest'), 'views': lazy('Most viewed')}
MEDIA = {'': lazy('With or without media'), 'any': lazy('With media'), 'none': lazy('Without media'),
         **{kind: MEDIA_NAMES.get(kind, kind) for kind in MEDIA_TYPES}}
DELETED = {'': lazy('Deleted or not'), 'only': lazy('Only deleted'), 'none': lazy('Not deleted')}
COMMENTS = {'': lazy('Posts'), 'include': lazy('Posts and comments'), 'only': lazy('Comments')}
EXAMPLES = ('ракета', '"запуск ракеты"', 'запуск* -реклама', 'выборы OR голосование since:2026-01-01',
            '#новости has:media', 'is:edited views:10000')


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, '%Y-%m-%d').date()
    except (TypeError, ValueError):
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


class SearchParams:
    """What a search page shows, as its URL holds it (unknown or malformed values are left out)."""

    def __init__(self, values: dict[str, Any]) -> None:
        def one(name: str) -> str:
            value = values.get(name) or ''
            return (value[0] if isinstance(value, list) and value else value if isinstance(value, str) else '')

        def many(name: str) -> list[str]:
            value = values.get(name) or []
            return [v for v in (value if isinstance(value, list) else [value]) if v]

        self.q = one('q')[:MAX_QUERY_CHARS]
        self.channels = [int(v) for v in many('channel') if v.isdigit()][:1000]
        self.tags = many('tag')[:50]
        self.since = one('since') if _day(one('since')) else ''
        self.until = one('until') if _day(one('until')) else ''
        self.media = one('media') if one('media') in MEDIA else ''
        self.views = one('views') if one('views').isdigit() else ''
        self.edited = one('edited') == '1'
        self.deleted = one('deleted') if one('deleted') in DELETED else ''
        self.comments = one('comments') if one('comments') in COMMENTS else ''
        self.sort = one('sort') if one('sort') in SORTS else 'relevance'

    @classmethod
    def of_request(cls, request: Request) -> SearchParams:
        query = request.query_params
        return cls({name: query.getlist(name) for name in query})

    def url_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {'q': self.q, 'channel': [str(c) for c in self.channels], 'tag': self.tags,
                                  'since': self.since, 'until': self.until, 'media': self.media,
                                  'views': self.views, 'edited': '1' if self.edited else '',
                                  'deleted': self.deleted, 'comments': self.comments,
                                  'sort': '' if self.sort == 'relevance' else self.sort}
        return {name: value for name, value in values.items() if value}

    def query_string(self) -> str:
        return urlencode(self.url_values(), doseq=True)

    def is_empty(self) -> bool:
        return not any(value for name, value in self.url_values().items() if name != 'sort')

    def request(self, *, limit: int = PAGE_SIZE, cursor: str | None = None) -> SearchRequest:
        media = self.media
        return SearchRequest(
            q=self.q, channel_ids=self.channels or None, tags=self.tags, since=_day(self.since),
            until=_day(self.until, end=True), has_media={'any': True, 'none': False}.get(media),
            media_types=[media] if media in MEDIA_TYPES else [], min_views=int(self.views) if self.views else None,
            edited=True if self.edited else None, deleted={'only': True, 'none': False}.get(self.deleted),
            sort=Sort(self.sort), limit=limit, cursor=cursor,
            comment={'include': None, 'only': True}.get(self.comments, False))


def register(root: Root) -> None:
    @app.get('/dashboard/search/export', include_in_schema=False)
    async def export_search_for_browser(request: Request, format: str = 'csv') -> StreamingResponse:
        # The auth middleware lets only the admin session reach this route (it is not under /api).
        if format not in FORMATS:
            raise HTTPException(400, 'format must be csv or jsonl')
        try:
            rows = await root.search.export(SearchParams.of_request(request).request())
        except (QueryError, SearchRequestError, IndexUnavailable) as error:
            raise HTTPException(400, search_problem(error)) from None
        return download(root.repos, rows, format, f'search.{format}')

    @ui.page('/dashboard/search')
    async def search_page(request: Request) -> None:
        params = SearchParams.of_request(request)
        with frame(_('Search')):
            entries = await root.sync.directory.entries() if root.database.ready else []
            SearchView(root, params, entries)
        await ui.context.client.connected()


class SearchView:
    def __init__(self, root: Root, params: SearchParams, entries: list[ListEntry]) -> None:
        self.root = root
        self.params = params
        self.cursor: str | None = None
        self.shown = 0
        self.generation = 0  # a newer search makes the answers of older ones moot
        channels = {entry.id: entry.title or (f'@{entry.username}' if entry.username else str(entry.id))
                    for entry in sorted(entries, key=lambda e: (e.title or '').lower())}
        tags = sorted({tag for entry in entries for tag in entry.tags})
        with ui.card().classes('w-full gap-2').props('flat bordered'):
            self.q = ui.input(_('Search all channels'), value=params.q,
                              placeholder=_('words, "a phrase", start*, -not, this OR that')) \
                .props('clearable outlined autofocus debounce=500').classes('w-full').mark('search-q')
            with self.q.add_slot('prepend'):
                ui.icon('search')
            with ui.row().classes('w-full items-end gap-3 pg-wrap'):
                self.channels = ui.select(channels, value=[c for c in params.channels if c in channels],
                                          multiple=True, label=_('Channels'), with_input=True) \
                    .props('outlined dense use-chips clearable').classes('pg-share min-w-48').mark('search-channels')
                self.tags = ui.select(tags, value=[t for t in params.tags if t in tags], multiple=True,
                                      label=_('Tags')) \
                    .props('outlined dense use-chips clearable').classes('pg-share min-w-32').mark('search-tags')
                self.since = ui.input(_('From'), value=params.since).props('type=date outlined dense') \
                    .classes('pg-share').mark('search-since')
                self.until = ui.input(_('To'), value=params.until).props('type=date outlined dense') \
                    .classes('pg-share').mark('search-until')
            with ui.row().classes('w-full items-end gap-3 pg-wrap'):
                self.media = ui.select({key: render(text) for key, text in MEDIA.items()}, value=params.media,
                                       label=_('Media')).props('outlined dense').classes('pg-share') \
                    .mark('search-media')
                self.views = ui.number(_('At least views'), value=int(params.views) if params.views else None,
                                       min=0, precision=0).props('outlined dense clearable debounce=500') \
                    .classes('pg-share w-36').mark('search-views')
                self.deleted = ui.select({key: render(text) for key, text in DELETED.items()},
                                         value=params.deleted, label=_('Deleted')) \
                    .props('outlined dense').classes('pg-share').mark('search-deleted')
                self.comments = ui.select({key: render(text) for key, text in COMMENTS.items()},
                                          value=params.comments, label=_('Search in')) \
                    .props('outlined dense').classes('pg-share').mark('search-comments')
                self.edited = ui.checkbox(_('edited only'), value=params.edited).mark('search-edited')
                self.sort = ui.select({key: render(text) for key, text in SORTS.items()}, value=params.sort,
                                      label=_('Order')).props('outlined dense').classes('pg-share') \
                    .mark('search-sort')
            with ui.row().classes('w-full items-center gap-2 pg-wrap'):
                self.summary = ui.label().classes('text-sm text-grey-8 grow').mark('search-summary')
                self.export_csv = ui.button('CSV', icon='download', on_click=lambda: self.download('csv')) \
                    .props('outline dense').mark('search-export-csv')
                self.export_jsonl = ui.button('JSONL', icon='download', on_click=lambda: self.download('jsonl')) \
                    .props('outline dense').mark('search-export-jsonl')
            IndexState(root)
        self.help = ui.card().classes('w-full gap-2').props('flat bordered').mark('search-help')
        with self.help:
            ui.label(_('Search every stored channel at once')).classes('text-lg font-medium')
            ui.label(_('Words match in any of their forms (канал finds канала and каналы; rocket finds rockets). '
                       "Quotes keep an exact phrase, * ends a word's start, a minus leaves a word out, OR gives "
                       'a choice; filters such as channel:@name, tag:, since:2026-01-31, has:media, views:1000, '
                       'is:edited and is:deleted narrow the search.')).classes('text-grey-8')
            with ui.row().classes('gap-2 pg-wrap'):
                for example in EXAMPLES:
                    ui.button(example, on_click=lambda e=example: self.try_example(e)) \
                        .props('outline dense no-caps').mark('search-example')
        self.items = ui.column().classes('w-full gap-2').mark('search-results')
        self.more = ui.button(_('Load more'), on_click=self.load_more).props('flat').mark('search-more')
        self.more.set_visibility(False)
        for element in (self.q, self.channels, self.tags, self.since, self.until, self.media, self.views,
                        self.deleted, self.comments, self.edited, self.sort):
            element.on_value_change(self.changed)
        ui.timer(0, self.run, once=True)

    def read_controls(self) -> SearchParams:
        views = self.views.value
        return SearchParams({
            'q': (self.q.value or '').strip(), 'channel': [str(c) for c in self.channels.value or []],
            'tag': list(self.tags.value or []), 'since': self.since.value or '', 'until': self.until.value or '',
            'media': self.media.value or '', 'views': str(int(views)) if views else '',
            'edited': '1' if self.edited.value else '', 'deleted': self.deleted.value or '',
            'comments': self.comments.value or '', 'sort': self.sort.value or 'relevance'})

    async def try_example(self, example: str) -> None:
        self.q.value = example  # the change runs the search

    def download(self, fmt: str) -> None:
        query = self.params.query_string()
        ui.download(f'/dashboard/search/export?format={fmt}' + (f'&{query}' if query else ''))
        ui.notify(_('Export started: the file downloads as it is written.'))

    async def changed(self) -> None:
        """Every filter lives in the page URL: a search can be bookmarked, shared and reloaded."""
        self.params = self.read_controls()
        query = self.params.query_string()
        ui.navigate.history.replace('/dashboard/search' + (f'?{query}' if query else ''))
        await self.run()

    async def run(self) -> None:
        self.generation += 1
        self.items.clear()
        self.cursor = None
        self.shown = 0
        self.summary.classes(remove='text-negative')
        empty = self.params.is_empty()
        self.help.set_visibility(empty)
        for button in (self.export_csv, self.export_jsonl):
            button.set_visibility(not empty)
        if empty:
            self.summary.set_text('')
            self.more.set_visibility(False)
            return
        await self.load_more()

    async def load_more(self) -> None:
        generation = self.generation
        page = await self._ask(self.params.request(cursor=self.cursor))
        if page is None or generation != self.generation:
            return
        self.cursor = page.next_cursor
        self.shown += len(page.items)
        with self.items:
            for item in page.items:
                channel = Channel(id=item.channel_id, title=item.channel_title, username=item.channel_username)
                ui.html(result_html(channel, item.post, item.snippet, page.matcher), sanitize=False) \
                    .classes('pg-post').mark(f'result-{item.channel_id}-{item.message_id}')
        if page.total:
            self.summary.set_text(n_('{n} post matches', '{n} posts match', page.total)
                                  + (' · ' + _('{shown} shown', shown=number(self.shown))
                                     if self.shown < page.total else ''))
        else:
            self.summary.set_text(_("No post matches. Try fewer words, a word's start with *, or wider filters."))
        self.more.set_visibility(page.next_cursor is not None)

    async def _ask(self, request: SearchRequest) -> SearchPage | None:
        generation = self.generation
        try:
            return await self.root.search.search(request)
        except (QueryError, SearchRequestError, IndexUnavailable) as error:
            if generation != self.generation:
                return None
            self.summary.set_text(search_problem(error))
            self.summary.classes(add='text-negative')
            self.more.set_visibility(False)
            return None


class IndexState:
    """The index's state when it is not simply current: a rebuild's progress, or a start; and a rebuild button."""

    def __init__(self, root: Root) -> None:
        self.root = root
        with ui.row().classes('w-full items-center gap-2 pg-wrap'):
            self.label = ui.label().classes('text-sm text-grey-8 grow').mark('index-state')
            self.bar = ui.linear_progress(show_value=False).classes('w-48').mark('index-progress')
            self.rebuild = ui.button(_('Rebuild the index'), icon='refresh', on_click=self.confirm) \
                .props('flat dense no-caps').mark('index-rebuild')
        self.refresh()
        ui.timer(1.0, self.refresh)

    def refresh(self) -> None:
        status = self.root.search_index.status
        building = status.state == 'building'
        self.bar.set_visibility(building)
        self.rebuild.set_visibility(status.state == 'ready')
        if building:
            self.bar.set_value(status.done / status.total if status.total else 0)
            self.label.set_text(_('The search index is being rebuilt: {done} of about {total} posts; results may '
                                  'be incomplete until it ends.', done=number(status.done),
                                  total=number(status.total)))
        elif status.state == 'ready':
            self.label.set_text(n_('{n} post indexed', '{n} posts indexed', status.posts))
        else:
            self.label.set_text(_('The search index is opening…'))

    async def confirm(self) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(_('Rebuild the search index from the database? Searches answer from what is indexed until '
                       'it ends.'))
            with ui.row().classes('w-full justify-end'):
                ui.button(_('Cancel'), on_click=lambda: dialog.submit(False)).props('flat')
                ui.button(_('Rebuild'), on_click=lambda: dialog.submit(True)).mark('index-rebuild-confirm')
        if await dialog:
            self.root.search_index.request_rebuild()
            self.root.feed_consumers.wake(self.root.search_index.name)
            self.refresh()
        dialog.delete()
