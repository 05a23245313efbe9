"""A post's file: kept in the database on first request, then served from there (Range requests included)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from app.api.archive import MessageIdPath
from app.api.channels import _get_channel
from app.api.deps import ReadyRootDep
from app.api.errors import ApiError
from app.api.params import ChannelIdPath
from app.api.ranges import file_response
from app.db.models import MediaPolicy
from app.i18n import lazy
from app.views import ChannelStorage, MediaJobView, MediaPolicyBody, MediaPolicyView

router = APIRouter(prefix='/mtproto')

_BINARY = {'application/octet-stream': {'schema': {'type': 'string', 'format': 'binary'}}}
FILE_RESPONSES = {
    200: {'description': 'The whole file, with its content type and name.', 'content': _BINARY},
    206: {'description': 'The byte range the Range header asked for (Content-Range).', 'content': _BINARY},
}


@router.get('/channels/{channel_id}/posts/{message_id}/media', response_class=Response, responses=FILE_RESPONSES)
async def post_media(
    channel_id: ChannelIdPath, message_id: MessageIdPath, root: ReadyRootDep, request: Request,
    range_header: Annotated[str | None, Header(alias='Range', max_length=200,
                                               description='one byte range, e.g. bytes=0- or bytes=500-999')] = None,
    download: Annotated[bool, Query(description='ask the browser to save the file rather than show it')] = False,
) -> Response:
    """The post's photo, video, audio or document. Kept in the database the first time it is asked for (one copy
    per SHA-256, however many posts show it), so it stays available after the channel deletes the post."""
    channel = await _get_channel(root, channel_id)
    post = await root.repos.posts.get(channel_id=channel_id, message_id=message_id)
    if post is None:
        raise ApiError(404, 'POST_NOT_FOUND', lazy('Post {message_id} of channel {channel_id} is not stored.',
                                                   message_id=message_id, channel_id=channel_id))
    kept = await root.media.keep(channel, post)
    return file_response(request, kept, await root.repos.media.open(kept.file_id), range_header,
                         attachment=download)


@router.get('/channels/{channel_id}/storage', response_model=ChannelStorage)
async def channel_storage(channel_id: ChannelIdPath, root: ReadyRootDep) -> ChannelStorage:
    """The channel's kept files: how many and how many bytes, by type."""
    await _get_channel(root, channel_id)
    by_type = await root.repos.media.storage(channel_id)
    return ChannelStorage(channel_id=channel_id, count=sum(t['count'] for t in by_type.values()),
                          bytes=sum(t['bytes'] for t in by_type.values()), by_type=by_type)


def policy_view(channel_id: int, policy: MediaPolicy, job: dict | None) -> MediaPolicyView:
    return MediaPolicyView(channel_id=channel_id, **policy.model_dump(),
                           job=MediaJobView.model_validate(job) if job and job.get('status') else None)


@router.get('/channels/{channel_id}/media-policy', response_model=MediaPolicyView)
async def get_media_policy(channel_id: ChannelIdPath, root: ReadyRootDep) -> MediaPolicyView:
    """Which of the channel's files are kept by themselves, and how far that work has come."""
    channel = await _get_channel(root, channel_id)
    return policy_view(channel_id, channel.media_policy, await root.repos.media.job(channel_id))


@router.put('/channels/{channel_id}/media-policy', response_model=MediaPolicyView)
async def set_media_policy(channel_id: ChannelIdPath, body: MediaPolicyBody, root: ReadyRootDep) -> MediaPolicyView:
    """Keep the channel's files of these types and sizes by themselves, newest first, up to the quota: for the
    posts already stored and as new ones arrive. The work shows its progress in `job`."""
    await _get_channel(root, channel_id)
    policy = MediaPolicy(**body.model_dump())
    await root.repos.channels.set_media_policy(channel_id, policy)
    root.media_policy.wake()
    return policy_view(channel_id, policy, await root.repos.media.job(channel_id))
