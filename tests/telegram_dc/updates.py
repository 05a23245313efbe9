"""Update delivery: live channel updates pushed to members, getState/getDifference and channel difference.

Per-channel pts grow by one per new or edited message and by the number of deleted messages. The World
remembers which channel pts it has pushed to each auth key; updates.getDifference answers with
updateChannelTooLong for channels that moved on since, so Telethon asks updates.getChannelDifference.
"""

import logging

from telethon.tl import types

from .errors import RpcError
from .state import ChannelRec

log = logging.getLogger(__name__)

ACCOUNT_PTS = 1
TOO_LONG_AFTER = 1000  # more pending events than this → channelDifferenceTooLong


class UpdateHandlers:
    def _safe_push(self, client, updates) -> None:
        try:
            client.push(updates)
        except Exception:
            log.exception('could not push updates to a client')

    def push_channel(self, ch: ChannelRec, update, *, advances_pts: bool = True, users: list | None = None) -> None:
        date = self.now()
        for client in list(self.clients):
            user_id = self.auth.get(client.auth_key_id)
            if user_id is None or user_id not in ch.members:
                continue
            updates = types.Updates(updates=[update], users=[self.user_tl(u, user_id) for u in users or ()],
                                    chats=[self.channel_tl(ch, user_id)], date=date, seq=0)
            self._safe_push(client, updates)
            if advances_pts:
                known = self.delivered.setdefault(client.auth_key_id, {})
                # Only a contiguous run counts as delivered; a gap means the client must ask for the difference.
                if known.get(ch.id, ch.pts - update.pts_count) == ch.pts - update.pts_count:
                    known[ch.id] = ch.pts

    def account_state(self) -> types.updates.State:
        return types.updates.State(pts=ACCOUNT_PTS, qts=0, date=self.now(), seq=0, unread_count=0)

    def rpc_updates_GetStateRequest(self, client, req):
        self.require_user(client)
        return self.account_state()

    def rpc_updates_GetDifferenceRequest(self, client, req):
        me = self.require_user(client)
        known = self.delivered.setdefault(client.auth_key_id, {})
        since = int(req.date.timestamp()) if req.date else 0
        behind = [ch for ch in self.channels.values()
                  if me.id in ch.members and (ch.pts > known.get(ch.id, 0) or (ch.log and ch.last_event_ts >= since))]
        if not behind:
            return types.updates.DifferenceEmpty(date=self.now(), seq=0)
        return types.updates.Difference(
            new_messages=[], new_encrypted_messages=[],
            other_updates=[types.UpdateChannelTooLong(channel_id=ch.id, pts=ch.pts) for ch in behind],
            chats=[self.channel_tl(ch, me.id) for ch in behind], users=[], state=self.account_state())

    def rpc_updates_GetChannelDifferenceRequest(self, client, req):
        me = self.require_user(client)
        ch = self.readable_channel(me, req.channel)
        limit = max(1, min(req.limit or 100, 100_000))
        if req.pts <= 0 or req.pts > ch.pts:
            raise RpcError(400, 'PERSISTENT_TIMESTAMP_INVALID')
        timeout = 30
        if req.pts == ch.pts:
            self.delivered.setdefault(client.auth_key_id, {})[ch.id] = ch.pts
            return types.updates.ChannelDifferenceEmpty(pts=ch.pts, final=True, timeout=timeout)
        chats = [self.channel_tl(ch, me.id)]
        if req.pts < ch.log_floor or len(ch.events_after(req.pts)) > TOO_LONG_AFTER:
            self.delivered.setdefault(client.auth_key_id, {})[ch.id] = ch.pts
            dialog = self._dialog(ch)
            latest = [ch.by_id[mid] for mid in ch.ids[-limit:]][::-1]
            return types.updates.ChannelDifferenceTooLong(dialog=dialog, messages=latest, chats=chats, users=[],
                                                          final=True, timeout=timeout)
        events = ch.events_after(req.pts)
        taken = events[:limit]
        final = len(taken) == len(events)
        new_ids: list[int] = []
        other = []
        for event in taken:
            if event.kind == 'new':
                new_ids.extend(event.ids)
            elif event.kind == 'edit':
                message = ch.message(event.ids[0])
                if message is not None and event.ids[0] not in new_ids:
                    other.append(types.UpdateEditChannelMessage(message=message, pts=event.pts, pts_count=1))
            else:
                other.append(types.UpdateDeleteChannelMessages(channel_id=ch.id, messages=event.ids, pts=event.pts,
                                                               pts_count=event.pts_count))
        new_messages = [m for m in (ch.message(mid) for mid in new_ids) if m is not None]
        pts = taken[-1].pts
        self.delivered.setdefault(client.auth_key_id, {})[ch.id] = pts
        return types.updates.ChannelDifference(pts=pts, new_messages=new_messages, other_updates=other,
                                               chats=chats, users=[], final=final, timeout=timeout if final else None)
