"""Posts' files in the dashboard: served to the signed-in browser (a thumbnail's click, a video that seeks) and a
download that shows its progress while Parsegram keeps the file from Telegram."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, Request
from fastapi.responses import Response
from nicegui import app, ui

from app.api.ranges import file_response
from app.db.models import Channel
from app.i18n import _, file_size, render
from app.mtproto.errors import ServiceError
from app.pages.post_card import media_url

if TYPE_CHECKING:
    from app.root import Root

PROGRESS_SECONDS = 0.5


def register(root: Root) -> None:
    @app.get('/dashboard/channels/{channel_id}/posts/{message_id}/media', include_in_schema=False)
    async def media_for_browser(request: Request, channel_id: int, message_id: int,
                                download: bool = False) -> Response:
        # The auth middleware lets only the admin session reach this route (it is not under /api).
        channel = await root.repos.channels.get(channel_id) if 0 < channel_id < 2**62 else None
        post = await root.repos.posts.get(channel_id=channel_id, message_id=message_id) \
            if channel is not None and 0 < message_id < 2**31 else None
        if post is None:
            raise HTTPException(404, _('This post is not stored.'))
        try:
            kept = await root.media.keep(channel, post)
        except ServiceError as error:
            raise HTTPException(error.status, render(error.message)) from None
        return file_response(request, kept, await root.repos.media.open(kept.file_id), request.headers.get('range'),
                             attachment=download)


async def keep_and_download(root: Root, channel: Channel, message_id: int) -> None:
    """Keep the post's file (saying how far it has come), then hand it to the browser; or say what went wrong."""
    post = await root.repos.posts.get(channel_id=channel.id, message_id=message_id)
    if post is None:
        return
    note = ui.notification(_('Keeping the file from Telegram…'), spinner=True, timeout=None)

    def show_progress() -> None:
        done, total = root.media.progress(channel.id, message_id)
        if total:
            note.message = _('Keeping the file from Telegram: {done} of {total}', done=file_size(done),
                             total=file_size(total))
    timer = ui.timer(PROGRESS_SECONDS, show_progress)
    try:
        await root.media.keep(channel, post)
    except ServiceError as error:
        note.message, note.type, note.spinner, note.close_button = render(error.message), 'negative', False, True
        return
    finally:
        timer.cancel()
    note.dismiss()
    ui.download(media_url(post, download=True))
