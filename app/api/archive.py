"""The archive API: the change feed for programs that pull, a post's versions, and the proof behind them."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.channels import _get_channel
from app.api.deps import ReadyRootDep
from app.api.errors import ApiError
from app.api.params import ChannelIdPath
from app.db.models import JobKind
from app.db.verify import verify_channel
from app.i18n import lazy
from app.mtproto.audit import completeness
from app.views import (
    ChangesPage,
    ChangeView,
    CommentsPage,
    CommentView,
    CompletenessView,
    JobView,
    PostVersions,
    VerifyView,
    VersionView,
)

router = APIRouter(prefix='/mtproto')

MessageIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description='a message id in the channel')]


@router.get('/changes', response_model=ChangesPage)
async def list_changes(
    root: ReadyRootDep,
    after: Annotated[int, Query(ge=0, le=2**62, description='the last position you have read; 0 from the start')] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangesPage:
    """Every change to a stored post (created, edited, deleted, restored, counters), in the order it committed.
    Pass `next_after` back as `after`; `oldest` is the first position still kept (older ones were trimmed)."""
    changes = await root.repos.feed.read(after=after, limit=limit)
    head = await root.repos.feed.head()
    next_after = changes[-1].position if changes else max(after, 0)
    return ChangesPage(items=[ChangeView(**c.to_dict()) for c in changes], next_after=next_after, head=head,
                       oldest=await root.repos.feed.oldest(head))


@router.get('/channels/{channel_id}/posts/{message_id}/versions', response_model=PostVersions)
async def post_versions(channel_id: ChannelIdPath, message_id: MessageIdPath, root: ReadyRootDep) -> PostVersions:
    """A post's versions, oldest first: each with what it held, when Parsegram saw it, its hash and the hash before
    it. The last one is the post as stored now (deleted, if Telegram no longer has it)."""
    await _get_channel(root, channel_id)
    post = await root.repos.posts.get(channel_id=channel_id, message_id=message_id)
    if post is None:
        raise ApiError(404, 'POST_NOT_FOUND', lazy('Post {message_id} of channel {channel_id} is not stored.',
                                                   message_id=message_id, channel_id=channel_id))
    earlier = await root.repos.versions.of_post(channel_id=channel_id, message_id=message_id)
    items = [VersionView.model_validate(doc) for doc in earlier] + [VersionView.model_validate(post.model_dump())]
    return PostVersions(channel_id=channel_id, message_id=message_id, edits=post.edits, deleted=post.deleted,
                        items=items)


@router.post('/channels/{channel_id}/verify', response_model=VerifyView)
async def verify(channel_id: ChannelIdPath, root: ReadyRootDep) -> VerifyView:
    """Recheck every post's hash chain and the channel's chain head; `ok`, or the first post whose stored history
    no longer matches (`message_id`, `version`, `reason`)."""
    await _get_channel(root, channel_id)
    return VerifyView(**asdict(await verify_channel(root.repos, channel_id)))


@router.get('/channels/{channel_id}/completeness', response_model=CompletenessView)
async def channel_completeness(channel_id: ChannelIdPath, root: ReadyRootDep) -> CompletenessView:
    """What Parsegram can prove it holds: of the ids from #1 to the newest the last audit covered, how many are
    stored, confirmed gone by Telegram (deleted before Parsegram saw them, or service messages) and unchecked."""
    await _get_channel(root, channel_id)
    return CompletenessView.of(await completeness(root.repos, channel_id))


@router.post('/channels/{channel_id}/audit', status_code=202, response_model=JobView)
async def audit(channel_id: ChannelIdPath, root: ReadyRootDep) -> JobView:
    """Queue an audit: ids missing from the stored sequence are asked for by id, 100 a request; the ones that exist
    are stored, the rest recorded as gone. While another job of the channel is active, that job is answered."""
    await _get_channel(root, channel_id)
    return JobView.of(await root.sync.enqueue(channel_id, kind=JobKind.AUDIT))


@router.get('/channels/{channel_id}/posts/{message_id}/comments', response_model=CommentsPage)
async def post_comments(channel_id: ChannelIdPath, message_id: MessageIdPath, root: ReadyRootDep) -> CommentsPage:
    """The comments under a post, oldest first, as read from the channel's discussion group (each sync reads those
    of recent posts again; deleted ones keep what they said, with `deleted: true`)."""
    channel = await _get_channel(root, channel_id)
    if await root.repos.posts.get(channel_id=channel_id, message_id=message_id) is None:
        raise ApiError(404, 'POST_NOT_FOUND', lazy('Post {message_id} of channel {channel_id} is not stored.',
                                                   message_id=message_id, channel_id=channel_id))
    comments = await root.repos.comments.of_post(channel_id, message_id)
    own = set(CommentView.model_fields) - {'author_name', 'reactions'}
    items = [CommentView(**comment.model_dump(include=own),
                         author_name=comment.post_author, reactions=[r.model_dump() for r in comment.reactions])
             for comment in comments]
    return CommentsPage(channel_id=channel_id, post_id=message_id, group_id=channel.linked_chat_id,
                        total=len(items), items=items)
