"""Import a Telegram chat folder: its channels are queued, tagged with the folder's name, and followed in the
'Add channels' box like a paste."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from app.i18n import _, n_, translate_text
from app.mtproto.channels import ChannelError, Folder
from app.pages.add_channels import connected_accounts

if TYPE_CHECKING:
    from app.pages.add_channels import AddChannels
    from app.root import Root


def folder_label(folder: Folder) -> str:
    return n_('{icon} {title} · {n} channel', '{icon} {title} · {n} channels', len(folder.channels),
              icon=folder.emoticon or '📁', title=folder.title)


class FolderImport:
    """A button that opens a dialog: choose an account, then one of its chat folders, then import it."""

    def __init__(self, root: Root, form: AddChannels) -> None:
        self.root = root
        self.form = form
        with form.buttons:
            ui.button(_('Import a Telegram folder'), icon='folder_open', on_click=self.open) \
                .props('flat no-caps').mark('import-folder')

    async def open(self) -> None:
        names = await connected_accounts(self.root)
        with ui.dialog() as dialog, ui.card().classes('w-[28rem] max-w-full'):
            ui.label(_('Import a Telegram folder')).classes('text-lg font-medium')
            ui.label(_('Its channels are added with the folder’s name as a tag. The account is a member of each, so '
                       'no look-ups or joins are spent.')).classes('text-sm text-grey-7')
            if not names:
                ui.label(_('No account is connected: log one in on the Accounts page.')).mark('folders-none')
                ui.button(_('Close'), on_click=dialog.close).props('flat')
                dialog.open()
                return
            account = ui.select(names, value=next(iter(names)),
                                label=_('Account')).classes('w-full').mark('folder-account')
            choice = ui.radio({}).mark('folder-choice')
            message = ui.label().classes('text-sm text-grey-8').mark('folders-message')
            with ui.row().classes('justify-end w-full'):
                ui.button(_('Cancel'), on_click=dialog.close).props('flat')
                start = ui.button(_('Import'), on_click=lambda: self._import(dialog, account.value, choice.value)) \
                    .mark('folder-import')
            found: list[Folder] = []

            async def load() -> None:
                message.set_text(_('Reading the folders…'))
                start.disable()
                try:
                    found[:] = await self.root.channels.folders(account.value)
                except ChannelError as error:
                    found.clear()
                    message.set_text(translate_text(error.message))
                    choice.set_options({})
                    return
                usable_folders = {f.id: folder_label(f) for f in found if f.channels}
                choice.set_options(usable_folders, value=next(iter(usable_folders), None))
                message.set_text('' if usable_folders else _('This account has no chat folder with channels in it.'))
                start.set_enabled(bool(usable_folders))
            account.on_value_change(load)
        dialog.on('hide', dialog.delete)
        dialog.open()
        await load()

    async def _import(self, dialog: ui.dialog, account_id: str, folder_id: int | None) -> None:
        if folder_id is None:
            return
        try:
            entries = await self.root.add_queue.import_folder(account_id, folder_id)
        except ChannelError as error:
            ui.notify(translate_text(error.message), type='warning')
            return
        dialog.close()
        await self.form.track(entries)
