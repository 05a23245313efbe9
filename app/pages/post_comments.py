"""A post's comments as a thread: each answer under the comment it answers, authors, times, reactions, edits and
deletions (a deleted comment keeps what it said)."""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nicegui import ui

from app.db.models import Comment
from app.i18n import _, n_
from app.pages.post_versions import utc_minute

if TYPE_CHECKING:
    from app.root import Root

MAX_DEPTH = 4  # deeper answers are drawn at this depth, so a long exchange stays readable on a phone


def thread_order(comments: list[Comment]) -> list[tuple[Comment, int]]:
    """Comments in reading order, each with its depth: every answer right under the comment it answers (oldest
    first); an answer to a comment that is not stored hangs from the post."""
    by_id = {comment.message_id: comment for comment in comments}
    children: dict[int | None, list[Comment]] = {}
    for comment in comments:
        parent = comment.reply_to if comment.reply_to in by_id else None
        children.setdefault(parent, []).append(comment)
    ordered: list[tuple[Comment, int]] = []
    stack = [(comment, 0) for comment in reversed(children.get(None, []))]
    while stack:
        comment, depth = stack.pop()
        ordered.append((comment, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(comment.message_id, [])))
    return ordered


def comment_html(comment: Comment) -> str:
    author = comment.post_author or _('someone')
    head = [f'<b data-mark="comment-author">{escape(author)}</b>', escape(utc_minute(comment.date))]
    if comment.edits:
        head.append(escape(n_('edited {n} time', 'edited {n} times', comment.edits)))
    if comment.deleted:
        deleted = _('deleted')
        head.append(f'<span class="q-badge bg-negative text-white pg-badge" data-mark="comment-deleted">'
                    f'{escape(deleted)}</span>')
    if comment.reactions:
        head.append(escape('  '.join(f'{r.emoji} {r.count}' for r in comment.reactions[:6])))
    return (f'<div class="pg-post-head">{" · ".join(head)}</div>'
            f'<div class="pg-post-text" data-mark="comment-text">{escape(comment.text)}</div>')


class CommentsDialog:
    def __init__(self, root: Root) -> None:
        self.root = root
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-3xl gap-2').mark('comments-dialog'):
            self.title = ui.label().classes('text-lg')
            self.body = ui.column().classes('w-full gap-2')
            ui.button(_('Close'), on_click=self.dialog.close).props('flat').classes('self-end')

    async def open(self, channel_id: int, message_id: int) -> None:
        comments = await self.root.repos.comments.of_post(channel_id, message_id)
        self.title.set_text(n_('Post #{id}: {n} comment', 'Post #{id}: {n} comments', len(comments), id=message_id))
        self.body.clear()
        with self.body:
            if not comments:
                ui.label(_('No comments are stored for this post yet: they are read with the next sync, or by the '
                           'reading of older comments after the history.')).classes('text-grey-7') \
                    .mark('comments-empty')
            for comment, depth in thread_order(comments):
                ui.html(comment_html(comment), sanitize=False).classes('pg-post') \
                    .style(f'margin-left: {min(depth, MAX_DEPTH) * 1.25}rem; width: auto') \
                    .mark(f'comment-{comment.message_id}')
        self.dialog.open()
