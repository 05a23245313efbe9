"""The bar over a selection of channels: sync now, pause, resume, tag, untag and delete them all at once."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nicegui import ui

from app.mtproto.bulk import BulkAction, BulkError, run_bulk

if TYPE_CHECKING:
    from app.root import Root

DONE_TEXT = {BulkAction.SYNC: 'queued for a sync', BulkAction.PAUSE: 'paused', BulkAction.RESUME: 'resumed',
             BulkAction.TAG: 'tagged', BulkAction.UNTAG: 'untagged', BulkAction.DELETE: 'deleted'}


class BulkBar:
    """Shown while channels are selected; `selected` is the set the list's checkboxes fill."""

    def __init__(self, root: Root, dialogs: ui.element, after: Callable[[BulkAction, list[int]], Awaitable[None]]
                 ) -> None:
        self.root = root
        self.dialogs = dialogs
        self.after = after
        self.selected: set[int] = set()
        with ui.row().classes('w-full items-center gap-1 px-3 py-1 rounded bg-blue-50').mark('bulk-bar') as self.bar:
            self.count = ui.label().classes('font-medium mr-2').mark('selected-count')
            for action, icon, label in ((BulkAction.SYNC, 'sync', 'Sync now'), (BulkAction.PAUSE, 'pause', 'Pause'),
                                        (BulkAction.RESUME, 'play_arrow', 'Resume')):
                ui.button(label, icon=icon, on_click=lambda a=action: self.run(a)) \
                    .props('flat dense no-caps').mark(f'bulk-{action.value}')
            ui.button('Tag', icon='label', on_click=lambda: self.ask_tags(BulkAction.TAG)) \
                .props('flat dense no-caps').classes('bulk-tag').mark('bulk-tag')
            ui.button('Untag', icon='label_off', on_click=lambda: self.ask_tags(BulkAction.UNTAG)) \
                .props('flat dense no-caps').mark('bulk-untag')
            ui.button('Delete', icon='delete', on_click=self.confirm_delete) \
                .props('flat dense no-caps color=negative').mark('bulk-delete')
            ui.space()
            ui.button('Clear', on_click=self.clear).props('flat dense no-caps').mark('bulk-clear')
        self.changed: Callable[[], None] = lambda: None
        self.show()

    def show(self) -> None:
        self.bar.set_visibility(bool(self.selected))
        self.count.set_text(f'{len(self.selected):,} selected')

    def clear(self) -> None:
        self.selected.clear()
        self.show()
        self.changed()

    async def run(self, action: BulkAction, tags: list[str] | None = None) -> bool:
        try:
            result = await run_bulk(self.root.sync, action, sorted(self.selected), tags)
        except BulkError as error:
            ui.notify(str(error), type='warning')
            return False
        ui.notify(f'{len(result.done):,} channel{"s" if len(result.done) != 1 else ""} {DONE_TEXT[action]}')
        if action == BulkAction.DELETE:
            self.selected.difference_update(result.done)
        self.selected.difference_update(result.missing)
        self.show()
        await self.after(action, result.done)
        return True

    async def ask_tags(self, action: BulkAction) -> None:
        tags = list(await self.root.sync.directory.tags())
        verb = 'Tag' if action == BulkAction.TAG else 'Untag'
        with self.dialogs, ui.dialog() as dialog, ui.card().classes('w-96'):
            ui.label(f'{verb} {len(self.selected):,} channels').classes('text-lg font-medium')
            adding = action == BulkAction.TAG
            choice = ui.select(tags, multiple=True, label='Tags', new_value_mode='add-unique' if adding else None) \
                .props('use-chips outlined use-input hide-dropdown-icon input-debounce=0') \
                .classes('w-full bulk-tags').mark('bulk-tags')
            if adding:
                ui.label('Type a new tag and press Enter, or pick one in use.').classes('text-sm text-grey-7')
            with ui.row().classes('justify-end w-full'):
                ui.button('Cancel', on_click=dialog.close).props('flat')

                async def apply() -> None:
                    if await self.run(action, list(choice.value or [])):
                        dialog.close()
                ui.button(verb, on_click=apply).classes('bulk-tags-apply').mark('bulk-tags-apply')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()

    async def confirm_delete(self) -> None:
        channels = await self.root.repos.channels.get_many(sorted(self.selected))
        posts = sum(channel.state.posts_stored for channel in channels.values())
        with self.dialogs, ui.dialog() as dialog, ui.card():
            ui.label(f'Delete {len(channels):,} channels and their {posts:,} stored posts? This cannot be undone.') \
                .mark('bulk-delete-question')
            with ui.row().classes('justify-end w-full'):
                ui.button('Cancel', on_click=dialog.close).props('flat')

                async def delete() -> None:
                    dialog.close()
                    await self.run(BulkAction.DELETE)
                ui.button('Delete', on_click=delete).props('color=negative').mark('bulk-delete-confirm')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()
