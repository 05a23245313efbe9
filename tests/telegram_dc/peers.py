"""Users, channels, basic groups, invite links, joining and dialogs."""

import re

from telethon.tl import types

from .errors import RpcError
from .state import ChannelRec, GroupRec, UserRec

_USERNAME = re.compile(r'^[a-zA-Z](?!.*__)[a-zA-Z0-9_]{3,31}(?<!_)$')


def _bad(name: str) -> RpcError:
    return RpcError(400, name)


class PeerHandlers:
    # ---- resolving input peers -----------------------------------------------------------------------

    def channel_from(self, user: UserRec, peer) -> ChannelRec:
        """The channel an InputChannel/InputPeerChannel names, checking the caller's own access hash."""
        if isinstance(peer, types.InputPeerChannel | types.InputChannel):
            ch = self.channels.get(peer.channel_id)
            if ch is None or peer.access_hash != self.channel_hash(user.id, ch.id):
                raise _bad('CHANNEL_INVALID')
            return ch
        raise _bad('CHANNEL_INVALID')

    def readable_channel(self, user: UserRec, peer) -> ChannelRec:
        ch = self.channel_from(user, peer)
        if ch.private and user.id not in ch.members:
            raise _bad('CHANNEL_PRIVATE')
        return ch

    def _input_user(self, me: UserRec, peer) -> UserRec | None:
        if isinstance(peer, types.InputUserSelf | types.InputPeerSelf):
            return me
        if isinstance(peer, types.InputUser | types.InputPeerUser):
            user = self.users.get(peer.user_id)
            if user is not None and (user.id == me.id or peer.access_hash == self.access_hash('u', me.id, user.id)):
                return user
        return None

    # ---- users ---------------------------------------------------------------------------------------

    def rpc_users_GetUsersRequest(self, client, req):
        me = self.require_user(client)
        result = []
        for peer in req.id:
            user = self._input_user(me, peer)
            result.append(self.user_tl(user, me.id) if user else types.UserEmpty(id=getattr(peer, 'user_id', 0)))
        return result

    def rpc_users_GetFullUserRequest(self, client, req):
        me = self.require_user(client)
        user = self._input_user(me, req.id)
        if user is None:
            raise _bad('USER_ID_INVALID')
        full = types.UserFull(id=user.id, settings=types.PeerSettings(),
                              notify_settings=types.PeerNotifySettings(), common_chats_count=0)
        return types.users.UserFull(full_user=full, chats=[], users=[self.user_tl(user, me.id)])

    def rpc_contacts_GetContactsRequest(self, client, req):
        return types.contacts.Contacts(contacts=[], saved_count=0, users=[])

    def rpc_account_UpdateStatusRequest(self, client, req):
        return True

    def rpc_contacts_ResolveUsernameRequest(self, client, req):
        me = self.require_user(client)
        name = (req.username or '').lstrip('@')
        if not _USERNAME.match(name):
            raise _bad('USERNAME_INVALID')
        found = self.find_username(name)
        if found is None:
            raise _bad('USERNAME_NOT_OCCUPIED')
        if isinstance(found, UserRec):
            return types.contacts.ResolvedPeer(peer=types.PeerUser(found.id), chats=[],
                                               users=[self.user_tl(found, me.id)])
        return types.contacts.ResolvedPeer(peer=types.PeerChannel(found.id), chats=[self.channel_tl(found, me.id)],
                                           users=[])

    # ---- channels ------------------------------------------------------------------------------------

    def rpc_channels_GetChannelsRequest(self, client, req):
        me = self.require_user(client)
        chats = [self.channel_tl(self.readable_channel(me, peer), me.id) for peer in req.id]
        return types.messages.Chats(chats=chats)

    def rpc_channels_GetFullChannelRequest(self, client, req):
        me = self.require_user(client)
        ch = self.readable_channel(me, req.channel)
        chats = [self.channel_tl(ch, me.id)]
        linked = self.channels.get(ch.linked_chat_id) if ch.linked_chat_id else None
        if linked is not None:
            chats.append(self.channel_tl(linked, me.id))
        full = types.ChannelFull(
            id=ch.id, about=ch.about, read_inbox_max_id=ch.top_id, read_outbox_max_id=ch.top_id, unread_count=0,
            chat_photo=self.channel_photo(ch), notify_settings=types.PeerNotifySettings(), bot_info=[], pts=ch.pts,
            participants_count=ch.participants_count, linked_chat_id=ch.linked_chat_id,
            pinned_msg_id=next((mid for mid in reversed(ch.ids) if ch.by_id[mid].pinned), None),
            available_reactions=types.ChatReactionsAll())
        return types.messages.ChatFull(full_chat=full, chats=chats, users=[])

    def _join_updates(self, me: UserRec, chat) -> types.Updates:
        update = types.UpdateChannel(channel_id=chat.id) if isinstance(chat, types.Channel) else \
            types.UpdateChat(chat_id=chat.id)
        return types.Updates(updates=[update], users=[], chats=[chat], date=self.now(), seq=0)

    def _join(self, me: UserRec, ch: ChannelRec) -> types.Updates:
        ch.members.add(me.id)
        self._mark_delivered(me.id, ch)
        return self._join_updates(me, self.channel_tl(ch, me.id))

    def rpc_channels_JoinChannelRequest(self, client, req):
        me = self.require_user(client)
        ch = self.channel_from(me, req.channel)
        if ch.private and me.id not in ch.members:
            raise _bad('CHANNEL_PRIVATE')
        return self._join(me, ch)

    def rpc_channels_LeaveChannelRequest(self, client, req):
        me = self.require_user(client)
        ch = self.channel_from(me, req.channel)
        if me.id not in ch.members:
            raise _bad('USER_NOT_PARTICIPANT')
        ch.members.discard(me.id)
        return self._join_updates(me, self.channel_tl(ch, me.id))

    # ---- basic groups ------------------------------------------------------------------------------

    def rpc_messages_GetChatsRequest(self, client, req):
        me = self.require_user(client)
        chats = []
        for chat_id in req.id:
            group = self.groups.get(chat_id)
            if group is None:
                raise _bad('CHAT_ID_INVALID')
            chats.append(self.group_tl(group, me.id))
        return types.messages.Chats(chats=chats)

    # ---- invite links --------------------------------------------------------------------------------

    def _invite(self, invite_hash: str) -> ChannelRec | GroupRec:
        found = self.invites.get(invite_hash)
        if found is None:
            raise _bad('INVITE_HASH_INVALID')
        kind, target_id, expired = found
        if expired:
            raise _bad('INVITE_HASH_EXPIRED')
        return self.channels[target_id] if kind == 'channel' else self.groups[target_id]

    def rpc_messages_CheckChatInviteRequest(self, client, req):
        me = self.require_user(client)
        target = self._invite(req.hash)
        if isinstance(target, GroupRec):
            if me.id in target.members:
                return types.ChatInviteAlready(chat=self.group_tl(target, me.id))
            return types.ChatInvite(title=target.title, photo=types.PhotoEmpty(id=0),
                                    participants_count=len(target.members), color=0)
        if me.id in target.members:
            return types.ChatInviteAlready(chat=self.channel_tl(target, me.id))
        return types.ChatInvite(
            title=target.title, photo=self.channel_photo(target), participants_count=target.participants_count,
            color=0, channel=True, broadcast=not target.megagroup or None, megagroup=target.megagroup or None,
            public=not target.private or None, about=target.about or None)

    def rpc_messages_ImportChatInviteRequest(self, client, req):
        me = self.require_user(client)
        target = self._invite(req.hash)
        if me.id in target.members:
            raise _bad('USER_ALREADY_PARTICIPANT')
        if isinstance(target, GroupRec):
            target.members.add(me.id)
            return self._join_updates(me, self.group_tl(target, me.id))
        return self._join(me, target)

    # ---- dialogs -------------------------------------------------------------------------------------

    def _dialog(self, ch: ChannelRec) -> types.Dialog:
        return types.Dialog(
            peer=types.PeerChannel(ch.id), top_message=ch.top_id, read_inbox_max_id=ch.top_id,
            read_outbox_max_id=ch.top_id, unread_count=0, unread_mentions_count=0, unread_reactions_count=0,
            unread_poll_votes_count=0, notify_settings=types.PeerNotifySettings(), pts=ch.pts)

    def _joined(self, me: UserRec) -> list[ChannelRec]:
        joined = [ch for ch in self.channels.values() if me.id in ch.members]
        joined.sort(key=lambda ch: (ch.dates[-1] if ch.dates else 0, ch.id), reverse=True)
        return joined

    def rpc_messages_GetDialogsRequest(self, client, req):
        me = self.require_user(client)
        joined = self._joined(me)
        if req.folder_id:
            joined = []
        messages = [ch.by_id[ch.top_id] for ch in joined if ch.top_id]
        return types.messages.Dialogs(dialogs=[self._dialog(ch) for ch in joined], messages=messages,
                                      chats=[self.channel_tl(ch, me.id) for ch in joined], users=[])

    def rpc_messages_GetPeerDialogsRequest(self, client, req):
        me = self.require_user(client)
        found = []
        for item in req.peers:
            peer = getattr(item, 'peer', None)
            found.append(self.readable_channel(me, peer))
        return types.messages.PeerDialogs(
            dialogs=[self._dialog(ch) for ch in found], messages=[ch.by_id[ch.top_id] for ch in found if ch.top_id],
            chats=[self.channel_tl(ch, me.id) for ch in found], users=[], state=self.account_state())

    def rpc_messages_GetDialogFiltersRequest(self, client, req):
        """The account's chat folders, "All chats" first; a folder's chats are input peers with this account's
        access hashes, and a chat the account has left is no longer in it."""
        me = self.require_user(client)
        filters: list = [types.DialogFilterDefault()]
        for folder in me.folders:
            peers = [types.InputPeerChannel(ch.id, self.channel_hash(me.id, ch.id))
                     for channel_id in folder.channel_ids
                     if (ch := self.channels.get(channel_id)) is not None and me.id in ch.members]
            filters.append(types.DialogFilter(
                id=folder.id, title=types.TextWithEntities(folder.title, []), pinned_peers=[], include_peers=peers,
                exclude_peers=[], broadcasts=None, emoticon=folder.emoticon))
        return types.messages.DialogFilters(filters=filters)

    def rpc_messages_GetPinnedDialogsRequest(self, client, req):
        self.require_user(client)
        return types.messages.PeerDialogs(dialogs=[], messages=[], chats=[], users=[], state=self.account_state())
