"""Reading channel history: paging, messages by id, views and text search."""

from telethon.tl import types

from .errors import RpcError
from .state import ChannelRec, RawMessageEmpty, window

MAX_LIMIT = 100


def _ts(date) -> int:
    return int(date.timestamp()) if date else 0


def _matches_filter(message, flt) -> bool:
    if flt is None or isinstance(flt, types.InputMessagesFilterEmpty):
        return True
    media = message.media
    document = getattr(media, 'document', None)
    mime = getattr(document, 'mime_type', '') or ''
    if isinstance(flt, types.InputMessagesFilterPhotos):
        return isinstance(media, types.MessageMediaPhoto)
    if isinstance(flt, types.InputMessagesFilterVideo):
        return mime.startswith('video/')
    if isinstance(flt, types.InputMessagesFilterPhotoVideo):
        return isinstance(media, types.MessageMediaPhoto) or mime.startswith('video/')
    if isinstance(flt, types.InputMessagesFilterMusic):
        return mime.startswith('audio/')
    if isinstance(flt, types.InputMessagesFilterDocument):
        return document is not None
    if isinstance(flt, types.InputMessagesFilterUrl):
        return any(isinstance(e, types.MessageEntityUrl | types.MessageEntityTextUrl) for e in message.entities or ())
    if isinstance(flt, types.InputMessagesFilterPinned):
        return bool(message.pinned)
    return False


class HistoryHandlers:
    def _channel_messages(self, ch: ChannelRec, viewer_id: int, messages: list, count: int):
        return types.messages.ChannelMessages(pts=ch.pts, count=count, messages=messages, topics=[],
                                              chats=[self.channel_tl(ch, viewer_id)], users=[])

    def _page(self, ch: ChannelRec, ids: list[int], dates: list[int], req) -> list:
        limit = max(0, min(req.limit or 0, MAX_LIMIT))
        if ch.hidden:
            kept = [(mid, date) for mid, date in zip(ids, dates, strict=True) if mid not in ch.hidden]
            ids, dates = [mid for mid, _ in kept], [date for _, date in kept]
        picked = window(ids, dates, offset_id=req.offset_id or 0, offset_date=_ts(getattr(req, 'offset_date', None)),
                        add_offset=req.add_offset or 0, limit=limit)
        if req.max_id:
            picked = [mid for mid in picked if mid < req.max_id]
        if req.min_id:
            picked = [mid for mid in picked if mid > req.min_id]
        by_id = ch.by_id
        return [by_id[mid] for mid in picked]

    def rpc_messages_GetHistoryRequest(self, client, req):
        me = self.require_user(client)
        if not isinstance(req.peer, types.InputPeerChannel):
            if isinstance(req.peer, types.InputPeerEmpty):
                raise RpcError(400, 'PEER_ID_INVALID')
            return types.messages.Messages(messages=[], topics=[], chats=[], users=[])
        ch = self.readable_channel(me, req.peer)
        return self._channel_messages(ch, me.id, self._page(ch, ch.ids, ch.dates, req), len(ch.ids))

    def rpc_messages_GetMessagesRequest(self, client, req):
        # Only private chats and basic groups live here, and this DC has no messages in those.
        self.require_user(client)
        return types.messages.Messages(messages=[], topics=[], chats=[], users=[])

    def rpc_channels_GetMessagesRequest(self, client, req):
        me = self.require_user(client)
        ch = self.readable_channel(me, req.channel)
        if not req.id:
            raise RpcError(400, 'MESSAGE_IDS_EMPTY')
        messages = []
        pinned = next((mid for mid in reversed(ch.ids) if ch.by_id[mid].pinned), None)
        for item in req.id:
            if isinstance(item, types.InputMessageID):
                mid = item.id
            elif isinstance(item, types.InputMessagePinned):
                mid = pinned or 0
            else:
                mid = getattr(item, 'id', 0)
            message = ch.message(mid)
            if message is None:
                message = RawMessageEmpty(id=mid, peer_id=types.PeerChannel(ch.id))
            messages.append(message)
        return self._channel_messages(ch, me.id, messages, len(messages))

    def rpc_messages_GetMessagesViewsRequest(self, client, req):
        me = self.require_user(client)
        ch = self.readable_channel(me, req.peer)
        views = []
        for mid in req.id:
            message = ch.message(mid)
            if message is None:
                views.append(types.MessageViews())
            else:
                views.append(types.MessageViews(views=message.views, forwards=message.forwards,
                                                replies=message.replies))
        return types.messages.MessageViews(views=views, chats=[self.channel_tl(ch, me.id)], users=[])

    def rpc_channels_ReadHistoryRequest(self, client, req):
        self.require_user(client)
        return True

    def rpc_messages_ReadHistoryRequest(self, client, req):
        self.require_user(client)
        return types.messages.AffectedMessages(pts=1, pts_count=0)

    def rpc_messages_SearchRequest(self, client, req):
        me = self.require_user(client)
        if not isinstance(req.peer, types.InputPeerChannel):
            return types.messages.Messages(messages=[], topics=[], chats=[], users=[])
        ch = self.readable_channel(me, req.peer)
        query = (req.q or '').lower()
        min_ts, max_ts = _ts(req.min_date), _ts(req.max_date)
        ids: list[int] = []
        dates: list[int] = []
        lower, by_id = ch.lower, ch.by_id
        for mid, ts in zip(ch.ids, ch.dates, strict=True):
            if query and query not in lower[mid]:
                continue
            if (min_ts and ts < min_ts) or (max_ts and ts >= max_ts):
                continue
            if not _matches_filter(by_id[mid], req.filter):
                continue
            ids.append(mid)
            dates.append(ts)
        limit = max(0, min(req.limit or 0, MAX_LIMIT))
        if ch.hidden:
            kept = [(mid, date) for mid, date in zip(ids, dates, strict=True) if mid not in ch.hidden]
            ids, dates = [mid for mid, _ in kept], [date for _, date in kept]
        picked = window(ids, dates, offset_id=req.offset_id or 0, offset_date=0, add_offset=req.add_offset or 0,
                        limit=limit)
        if req.max_id:
            picked = [mid for mid in picked if mid < req.max_id]
        if req.min_id:
            picked = [mid for mid in picked if mid > req.min_id]
        return self._channel_messages(ch, me.id, [by_id[mid] for mid in picked], len(ids))
