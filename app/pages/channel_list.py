"""What the channel list shows, kept in the page URL: filter text, status, tag, sort and page; and its toolbar."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from nicegui import ui

from app.db.channel_list import ChannelQuery, ListSort, StatusFilter, normalize_tag
from app.i18n import _, lazy, render

PAGE_SIZE = 50
SORT_LABELS = {ListSort.TITLE: lazy('Title'), ListSort.SUBSCRIBERS: lazy('Subscribers'),
               ListSort.POSTS: lazy('Posts stored'), ListSort.LAST_POST: lazy('Last post'),
               ListSort.LAST_SYNCED: lazy('Last synced'), ListSort.ADDED: lazy('Added')}
STATUS_LABELS = {'': lazy('Any status'), StatusFilter.SYNCING: lazy('Syncing'), StatusFilter.WAITING: lazy('Waiting'),
                 StatusFilter.PAUSED: lazy('Paused'), StatusFilter.FAILED: lazy('Failed'),
                 StatusFilter.IDLE: lazy('Idle')}


@dataclass(frozen=True)
class ListView:
    """The list's filters, sort and page, as in `/dashboard/channels?q=…&status=…&tag=…&sort=…&order=…&page=…`."""

    q: str = ''
    status: StatusFilter | None = None
    tag: str | None = None
    sort: ListSort = ListSort.TITLE
    descending: bool | None = None
    page: int = 1

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ListView:
        """Read a URL's parameters; a value that makes no sense is left at its default rather than failing."""
        def pick(enum: type, value: str | None) -> object | None:
            return enum(value) if value in set(enum) else None
        try:
            tag = normalize_tag(params['tag']) if params.get('tag') else None
        except ValueError:
            tag = None
        page = params.get('page', '')
        order = params.get('order')
        return cls(q=params.get('q', '')[:200], status=pick(StatusFilter, params.get('status')), tag=tag,
                   sort=pick(ListSort, params.get('sort')) or ListSort.TITLE,
                   descending=None if order not in ('asc', 'desc') else order == 'desc',
                   page=int(page) if page.isdigit() and 0 < int(page) < 10**6 else 1)

    def params(self) -> dict[str, str]:
        values = {'q': self.q, 'status': self.status or '', 'tag': self.tag or '',
                  'sort': '' if self.sort == ListSort.TITLE else self.sort.value,
                  'order': '' if self.descending is None else 'desc' if self.descending else 'asc',
                  'page': '' if self.page == 1 else str(self.page)}
        return {name: str(value) for name, value in values.items() if value}

    def url(self) -> str:
        params = self.params()
        return '/dashboard/channels' + (f'?{urlencode(params)}' if params else '')

    def query(self) -> ChannelQuery:
        return ChannelQuery(q=self.q, tag=self.tag, status=self.status, sort=self.sort, descending=self.descending,
                            limit=PAGE_SIZE, offset=(self.page - 1) * PAGE_SIZE)

    @property
    def filtered(self) -> bool:
        return bool(self.q.strip() or self.status or self.tag)

    def is_descending(self) -> bool:
        return self.query().is_descending




class Toolbar:
    """Filter box, status, tag and sort; every change goes to `view` and the URL, back on page one, then `on_change`."""

    def __init__(self, view: ListView, tags: list[str], on_change: Callable[[], Awaitable[None]]) -> None:
        self.view = view
        self.on_change = on_change
        self.typed = False  # the last change came from the filter box
        with ui.row().classes('w-full items-center gap-2 no-wrap pg-wrap'):
            self.search = ui.input(placeholder=_('Filter by title or @username'), value=view.q) \
                .props('dense outlined clearable debounce=300').classes('grow pg-full channel-filter') \
                .mark('channel-filter')
            self.search.on_value_change(lambda e: self._set(q=(e.value or '')[:200]))
            with self.search.add_slot('prepend'):
                ui.icon('search')
            self.status = ui.select({key: render(label) for key, label in STATUS_LABELS.items()},
                                    value=view.status or '',
                                    on_change=lambda e: self._set(status=e.value or None)) \
                .props('dense outlined options-dense').classes('min-w-[10rem] pg-share').mark('status-filter')
            self.tag = ui.select({'': _('Any tag')}, value='', on_change=lambda e: self._set(tag=e.value or None)) \
                .props('dense outlined options-dense').classes('min-w-[10rem] pg-share').mark('tag-filter')
            self.set_tags(tags)
            self.sort = ui.select({sort.value: render(label) for sort, label in SORT_LABELS.items()},
                                  value=view.sort.value,
                      on_change=lambda e: self._set(sort=ListSort(e.value), descending=None)) \
                .props('dense outlined options-dense').classes('min-w-[10rem] pg-share').mark('sort')
            self.order = ui.button(on_click=lambda: self._set(descending=not self.view.is_descending())) \
                .props('flat round dense').mark('sort-order')
            self._show_order()

    async def reset(self) -> None:
        """Back to every channel: the filter box, status and tag cleared (sort and order kept)."""
        for widget in (self.search, self.status, self.tag):
            widget.set_value('')  # each change lands in `_set`; the last one loads the list

    def set_tags(self, tags: list[str]) -> None:
        options = {'': _('Any tag'), **{tag: tag for tag in tags}}
        if self.view.tag and self.view.tag not in options:
            options[self.view.tag] = self.view.tag
        if options != self.tag.options:
            self.tag.set_options(options, value=self.view.tag or '')

    def _show_order(self) -> None:
        descending = self.view.is_descending()
        self.order.props(f'icon={"arrow_downward" if descending else "arrow_upward"}')
        self.order.tooltip(_('Descending') if descending else _('Ascending'))

    async def _set(self, **changes: object) -> None:
        view = replace(self.view, **changes, page=1)
        if view == self.view:
            return
        typing = set(changes) == {'q'}
        self.view = view
        self._show_order()
        # each chosen filter is a step Back can undo; the filter box is one step however many letters are typed
        (ui.navigate.history.replace if typing and self.typed else ui.navigate.history.push)(view.url())
        self.typed = typing
        await self.on_change()
