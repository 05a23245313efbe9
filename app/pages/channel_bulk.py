"""The bar over a selection of channels: sync now, pause, resume, tag, untag and delete them all at once."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nicegui import ui

from app.i18n import _, n_, number, translate_text
from app.mtproto.bulk import BulkAction, BulkError, run_bulk
from app.pages.channel_widgets import keep_files_choice

if TYPE_CHECKING:
    from app.root import Root

NAMED = 20  # channels a delete dialog lists by name; the rest are counted

DONE_TEXT: dict[BulkAction, Callable[[int], str]] = {
    BulkAction.SYNC: lambda n: n_('{n} channel queued for a sync', '{n} channels queued for a sync', n),
    BulkAction.PAUSE: lambda n: n_('{n} channel paused', '{n} channels paused', n),
    BulkAction.RESUME: lambda n: n_('{n} channel resumed', '{n} channels resumed', n),
    BulkAction.TAG: lambda n: n_('{n} channel tagged', '{n} channels tagged', n),
    BulkAction.UNTAG: lambda n: n_('{n} channel untagged', '{n} channels untagged', n),
    BulkAction.DELETE: lambda n: n_('{n} channel deleted', '{n} channels deleted', n),
}


class BulkBar:
    """Shown while channels are selected; `selected` is the set the list's checkboxes fill."""

    def __init__(self, root: Root, dialogs: ui.element, after: Callable[[BulkAction, list[int]], Awaitable[None]]
                 ) -> None:
        self.root = root
        self.dialogs = dialogs
        self.after = after
        self.selected: set[int] = set()
        # sticky under the header: on a long list (or a phone) the actions stay on screen with what they act on
        with ui.row().classes('w-full items-center gap-1 px-3 py-1 rounded pg-bar pg-sticky') \
                .mark('bulk-bar') as self.bar:
            self.count = ui.label().classes('font-medium mr-2').mark('selected-count')
            for action, icon, label in ((BulkAction.SYNC, 'sync', _('Sync now')),
                                        (BulkAction.PAUSE, 'pause', _('Pause')),
                                        (BulkAction.RESUME, 'play_arrow', _('Resume'))):
                ui.button(label, icon=icon, on_click=lambda a=action: self.run(a)) \
                    .props('flat dense no-caps').mark(f'bulk-{action.value}')
            ui.button(_('Tag'), icon='label', on_click=lambda: self.ask_tags(BulkAction.TAG)) \
                .props('flat dense no-caps').classes('bulk-tag').mark('bulk-tag')
            ui.button(_('Untag'), icon='label_off', on_click=lambda: self.ask_tags(BulkAction.UNTAG)) \
                .props('flat dense no-caps').mark('bulk-untag')
            ui.button(_('Delete'), icon='delete', on_click=self.confirm_delete) \
                .props('flat dense no-caps color=negative').mark('bulk-delete')
            ui.space()
            ui.button(_('Clear'), on_click=self.clear).props('flat dense no-caps').mark('bulk-clear')
        self.changed: Callable[[], None] = lambda: None
        self.show()

    def show(self) -> None:
        self.bar.set_visibility(bool(self.selected))
        self.count.set_text(_('{count} selected', count=number(len(self.selected))))

    def clear(self) -> None:
        self.selected.clear()
        self.show()
        self.changed()

    async def run(self, action: BulkAction, tags: list[str] | None = None, *, keep_files: bool = True) -> bool:
        try:
            result = await run_bulk(self.root.sync, action, sorted(self.selected), tags, keep_files=keep_files)
        except BulkError as error:
            ui.notify(translate_text(str(error)), type='warning')
            return False
        ui.notify(DONE_TEXT[action](len(result.done)))
        if action == BulkAction.DELETE:
            self.selected.difference_update(result.done)
        self.selected.difference_update(result.missing)
        self.show()
        await self.after(action, result.done)
        return True

    async def ask_tags(self, action: BulkAction) -> None:
        tags = list(await self.root.sync.directory.tags())
        adding = action == BulkAction.TAG
        count = len(self.selected)
        with self.dialogs, ui.dialog() as dialog, ui.card().classes('w-96 max-w-full'):
            ui.label(n_('Tag {n} channel', 'Tag {n} channels', count) if adding
                     else n_('Untag {n} channel', 'Untag {n} channels', count)).classes('text-lg font-medium')
            choice = ui.select(tags, multiple=True, label=_('Tags'), new_value_mode='add-unique' if adding else None) \
                .props('use-chips outlined use-input hide-dropdown-icon input-debounce=0') \
                .classes('w-full bulk-tags').mark('bulk-tags')
            if adding:
                ui.label(_('Type a new tag and press Enter, or pick one in use.')).classes('text-sm text-grey-7')
            with ui.row().classes('justify-end w-full'):
                ui.button(_('Cancel'), on_click=dialog.close).props('flat')

                async def apply() -> None:
                    if await self.run(action, list(choice.value or [])):
                        dialog.close()
                ui.button(_('Tag') if adding else _('Untag'), on_click=apply).classes('bulk-tags-apply') \
                    .mark('bulk-tags-apply')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()

    async def confirm_delete(self) -> None:
        channels = await self.root.repos.channels.get_many(sorted(self.selected))
        posts = sum(channel.state.posts_stored for channel in channels.values())
        titles = sorted((channel.title or str(channel.id) for channel in channels.values()), key=str.casefold)
        files, size = await self.root.repos.media.kept_total(list(channels))
        with self.dialogs, ui.dialog() as dialog, ui.card():
            ui.label(n_('Delete {n} channel and its {posts} stored posts? This cannot be undone.',
                        'Delete {n} channels and their {posts} stored posts? This cannot be undone.', len(channels),
                        posts=number(posts))) \
                .mark('bulk-delete-question')
            with ui.column().classes('gap-0 max-h-60 overflow-auto').mark('bulk-delete-names'):
                for title in titles[:NAMED]:
                    ui.label(f'• {title}').classes('pg-break')
                if len(titles) > NAMED:
                    ui.label(n_('and {n} more', 'and {n} more', len(titles) - NAMED)).classes('text-grey-7')
            keep = keep_files_choice(files, size)
            with ui.row().classes('justify-end w-full'):
                ui.button(_('Cancel'), on_click=dialog.close).props('flat')

                async def delete() -> None:
                    dialog.close()
                    await self.run(BulkAction.DELETE, keep_files=keep.value)
                ui.button(_('Delete'), on_click=delete).props('color=negative').mark('bulk-delete-confirm')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()
