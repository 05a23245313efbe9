"""A post's versions in a dialog: oldest first, each with the words an edit changed, when Parsegram saw it,
Telegram's edit date and its hash (the chain that `verify` rechecks)."""
from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.i18n import _, lazy, n_, render
from app.word_diff import word_diff

if TYPE_CHECKING:
    from app.root import Root


MEDIA_NAMES = {'photo': lazy('photo'), 'video': lazy('video'), 'audio': lazy('audio'), 'voice': lazy('voice'),
               'document': lazy('document'), 'sticker': lazy('sticker'), 'gif': lazy('GIF'),
               'webpage': lazy('link preview'), 'poll': lazy('poll'), 'geo': lazy('location'),
               'contact': lazy('contact'), 'other': lazy('other media')}


def utc_minute(moment: datetime | None) -> str:
    return f'{moment:%Y-%m-%d %H:%M} UTC' if moment else '—'


def diff_html(old: str, new: str) -> str:
    """The new text with the words taken out struck through and the words put in marked (escaped)."""
    parts = []
    for op, text in word_diff(old, new):
        if op == 'same':
            parts.append(escape(text))
        else:
            tag = 'del' if op == 'del' else 'ins'
            parts.append(f'<{tag} class="pg-{op}">{escape(text)}</{tag}>')
    return ''.join(parts)


def _media(version: dict[str, Any]) -> str:
    media = version.get('media') or {}
    return render(MEDIA_NAMES.get(media.get('type'), media.get('type') or '')) if media else ''


def version_html(version: dict[str, Any], before: dict[str, Any] | None) -> str:
    title, deleted = _('Version {n}', n=version['version']), _('deleted')
    head = [f'<b>{escape(title)}</b>',
            escape(_('seen {time}', time=utc_minute(version.get('version_at'))))]
    if version.get('edit_date'):
        head.append(escape(_('edited on Telegram {time}', time=utc_minute(version['edit_date']))))
    if version.get('deleted'):
        head.append(f'<span class="q-badge bg-negative text-white pg-badge">{escape(deleted)}</span>')
    notes = []
    if before is not None and version.get('deleted') and not before.get('deleted'):
        notes.append(_('Telegram no longer has this post; its last version is kept.'))
    elif before is not None and _media(before) != _media(version):
        notes.append(_('Media: {before} → {after}', before=_media(before) or _('none'),
                       after=_media(version) or _('none')))
    text = version.get('text') or ''
    body = escape(text) if before is None else diff_html(before.get('text') or '', text)
    full = escape(version.get('hash') or '')
    return (f'<div class="pg-post-head">{" · ".join(head)}</div>'
            + ''.join(f'<div class="text-sm">{escape(note)}</div>' for note in notes)
            + (f'<div class="pg-post-text" data-mark="version-text">{body}</div>' if body else '')
            + f'<div class="pg-hash text-grey-7" title="{full}">SHA-256 {full}</div>')


class VersionsDialog:
    def __init__(self, root: Root) -> None:
        self.root = root
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-3xl gap-2').mark('versions-dialog'):
            self.title = ui.label().classes('text-lg')
            self.body = ui.column().classes('w-full gap-2')
            ui.button(_('Close'), on_click=self.dialog.close).props('flat').classes('self-end')

    async def open(self, channel_id: int, message_id: int) -> None:
        post = await self.root.repos.posts.get(channel_id=channel_id, message_id=message_id)
        if post is None:
            ui.notify(_('This post is no longer stored.'), type='warning')
            return
        earlier = await self.root.repos.versions.of_post(channel_id=channel_id, message_id=message_id)
        versions = [*earlier, post.model_dump()]
        self.title.set_text(n_('Post #{id}: {n} version', 'Post #{id}: {n} versions, oldest first', len(versions),
                               id=message_id))
        self.body.clear()
        with self.body:
            for index, version in enumerate(versions):
                ui.html(version_html(version, versions[index - 1] if index else None), sanitize=False) \
                    .classes('pg-post').mark(f'version-{version["version"]}')
        self.dialog.open()
