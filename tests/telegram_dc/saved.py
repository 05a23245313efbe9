"""Saved Messages: what a user sends to themselves (`messages.sendMessage` to InputPeerSelf), kept per user.

Only the user's own chat is writable here; a message to anyone else is refused as Telegram refuses a peer the
user cannot write to. Messages are limited to 4096 characters (MESSAGE_TOO_LONG), and empty ones refused
(MESSAGE_EMPTY)."""

from __future__ import annotations

from datetime import UTC, datetime

from telethon.tl import types

from .errors import RpcError
from .state import UserRec

MAX_MESSAGE = 4096


class SavedMessagesHandlers:
    users: dict[int, UserRec]
    saved: dict[int, list[dict]]  # user id → their Saved Messages, oldest first

    def saved_messages(self, user_id: int) -> list[dict]:
        """Control API: what this user has in Saved Messages ({id, text, date})."""
        return list(self.saved.get(user_id, []))

    def rpc_messages_SendMessageRequest(self, client, req):
        me = self.require_user(client)
        peer = req.peer
        own = isinstance(peer, types.InputPeerSelf) or (isinstance(peer, types.InputPeerUser)
                                                         and peer.user_id == me.id)
        if not own:
            raise RpcError(403, 'CHAT_WRITE_FORBIDDEN')
        text = req.message or ''
        if not text.strip():
            raise RpcError(400, 'MESSAGE_EMPTY')
        if len(text) > MAX_MESSAGE:
            raise RpcError(400, 'MESSAGE_TOO_LONG')
        box = self.saved.setdefault(me.id, [])
        now = datetime.now(UTC).replace(microsecond=0)
        box.append({'id': len(box) + 1, 'text': text, 'date': now.isoformat()})
        return types.UpdateShortSentMessage(out=True, id=len(box), pts=len(box), pts_count=1, date=now)
