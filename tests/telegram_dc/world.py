"""All Telegram state of the test DC, in memory, and the Telegram methods that act on it.

The server calls `await world.invoke(client, request)` with an unwrapped Telethon request object; the
answer is a Telethon TL object (so it speaks the client's layer) or an `RpcError` with Telegram's name.
Control methods (create_user, post_message, ...) are plain synchronous calls made on the DC's loop.
"""

import hashlib
import hmac
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any, Protocol

from telethon.tl import functions, types

from . import content
from .discussions import DiscussionHandlers
from .errors import RpcError
from .files import FileHandlers, FileRec
from .history import HistoryHandlers
from .login import LoginHandlers
from .peers import PeerHandlers
from .phones import normalize_phone
from .saved import SavedMessagesHandlers
from .seed import seed_demo
from .srp import make_record
from .state import ChannelRec, Event, FolderRec, GroupRec, StoredMessage, UserRec
from .thumbs import avatar
from .updates import UpdateHandlers

log = logging.getLogger(__name__)

FOLDERS_LIMIT = 10  # dialog_filters_limit_default
FOLDER_CHATS_LIMIT = 100  # dialog_filters_chats_limit_default
_WRAPPERS = (functions.InvokeWithLayerRequest, functions.InitConnectionRequest,
             functions.InvokeWithoutUpdatesRequest, functions.InvokeAfterMsgRequest,
             functions.InvokeAfterMsgsRequest, functions.InvokeWithTakeoutRequest)


class DcClient(Protocol):
    auth_key_id: int
    session_id: int

    def push(self, updates: Any) -> None: ...


class World(LoginHandlers, PeerHandlers, HistoryHandlers, UpdateHandlers, FileHandlers, DiscussionHandlers,
            SavedMessagesHandlers):
    # Methods that work on a key that is not logged in yet.
    PUBLIC_METHODS = frozenset({
        'help_GetConfigRequest', 'help_GetNearestDcRequest', 'auth_SendCodeRequest', 'auth_ResendCodeRequest',
        'auth_CancelCodeRequest', 'auth_SignInRequest', 'auth_SignUpRequest', 'auth_CheckPasswordRequest',
        'account_GetPasswordRequest', 'auth_ExportLoginTokenRequest', 'auth_ImportLoginTokenRequest',
    })

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.secret = hashlib.sha256(f'parsegram-test-dc-{seed}'.encode()).digest()
        self.dc_id = 2
        self.host = '127.0.0.1'
        self.port = 443
        self.clock = time.time
        self.code_ttl = 300.0
        self.qr_ttl = 60.0
        self.users: dict[int, UserRec] = {}
        self.channels: dict[int, ChannelRec] = {}
        self.groups: dict[int, GroupRec] = {}
        self.saved: dict[int, list[dict]] = {}
        self.invites: dict[str, tuple[str, int, bool]] = {}  # hash -> (kind, id, expired)
        self.clients: set = set()
        self.auth: dict[int, int] = {}  # auth_key_id -> user_id
        self.delivered: dict[int, dict[int, int]] = {}  # auth_key_id -> channel_id -> pts known to reach it
        self._next_user = 1_000_001
        self._next_channel = 1_700_000_001
        self._next_group = 4_000_001
        self._next_media = 1
        self.files: dict[int, FileRec] = {}
        self.commenters: dict[str, int] = {}
        self._init_login()

    # ---- ids, hashes, time -------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock()), UTC)

    def access_hash(self, kind: str, viewer_id: int, target_id: int) -> int:
        """Access hashes differ per viewing user, as on Telegram."""
        mac = hmac.new(self.secret, f'{kind}:{viewer_id}:{target_id}'.encode(), hashlib.sha256).digest()
        return int.from_bytes(mac[:8], 'big', signed=True)

    def channel_hash(self, user_id: int, channel_id: int) -> int:
        return self.access_hash('c', user_id, channel_id)

    def _new_hash(self, nbytes: int = 12) -> str:
        alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'
        return ''.join(self.rng.choice(alphabet) for _ in range(nbytes + 4))

    # ---- TL builders -------------------------------------------------------------------------------

    def user_tl(self, user: UserRec, viewer_id: int) -> types.User:
        is_self = user.id == viewer_id
        return types.User(
            id=user.id, is_self=is_self or None, access_hash=self.access_hash('u', viewer_id, user.id),
            first_name=user.first_name, last_name=user.last_name or None, username=user.username,
            phone=user.phone if is_self else None, status=types.UserStatusOffline(self.now()))

    def channel_tl(self, ch: ChannelRec, viewer_id: int) -> types.Channel:
        photo = types.ChatPhotoEmpty()
        if ch.photo_id:
            photo = types.ChatPhoto(photo_id=ch.photo_id, dc_id=self.dc_id, stripped_thumb=avatar(ch.id))
        return types.Channel(
            id=ch.id, title=ch.title, photo=photo, date=ch.date, broadcast=not ch.megagroup or None,
            megagroup=ch.megagroup or None, left=viewer_id not in ch.members or None,
            access_hash=self.channel_hash(viewer_id, ch.id), username=ch.username,
            participants_count=ch.participants_count, has_link=ch.linked_chat_id is not None or None,
            signatures=not ch.megagroup or None)

    def group_tl(self, group: GroupRec, viewer_id: int) -> types.Chat:
        return types.Chat(id=group.id, title=group.title, photo=types.ChatPhotoEmpty(),
                          participants_count=len(group.members), date=group.date, version=1,
                          left=viewer_id not in group.members or None)

    def channel_photo(self, ch: ChannelRec):
        if not ch.photo_id:
            return types.PhotoEmpty(id=0)
        photo = content.photo(ch.photo_id, ch.date)
        photo.sizes[0] = types.PhotoStrippedSize('i', avatar(ch.id))
        return photo

    # ---- control API (synchronous; run on the DC's loop) --------------------------------------------

    def create_user(self, phone: str, first_name: str, *, username: str | None = None, password: str | None = None,
                    last_name: str = '', hint: str = '') -> int:
        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError(f'invalid phone number: {phone!r}')
        if self.user_by_phone(normalized) is not None:
            raise ValueError('phone number already registered')
        if username and self.find_username(username) is not None:
            raise ValueError('username already taken')
        user = UserRec(id=self._next_user, phone=normalized, first_name=first_name, last_name=last_name,
                       username=username)
        self._next_user += 1
        if password:
            user.password = make_record(password, self.rng, hint=hint)
        self.users[user.id] = user
        return user.id

    def set_password(self, user_id: int, password: str | None, hint: str = '') -> None:
        user = self.users[user_id]
        user.password = make_record(password, self.rng, hint=hint) if password else None
        user.challenge = None

    def user_by_phone(self, phone: str) -> UserRec | None:
        normalized = normalize_phone(phone) or phone
        return next((u for u in self.users.values() if u.phone == normalized), None)

    def find_username(self, username: str) -> UserRec | ChannelRec | None:
        wanted = username.lower()
        for item in (*self.users.values(), *self.channels.values()):
            if item.username and item.username.lower() == wanted:
                return item
        return None

    def create_channel(self, title: str, *, username: str | None = None, private: bool = False, posts: int = 0,
                       seed: int = 0, about: str = '', megagroup: bool = False, participants: int | None = None,
                       linked_chat_id: int | None = None, photo: bool = True) -> dict:
        if username and self.find_username(username) is not None:
            raise ValueError('username already taken')
        ch = ChannelRec(id=self._next_channel, title=title, date=datetime(2023, 6, 1, tzinfo=UTC),
                        username=None if private else username, private=private, about=about, megagroup=megagroup,
                        linked_chat_id=linked_chat_id)
        self._next_channel += 1
        ch.photo_id = 9_000_000_000 + ch.id if photo else 0
        ch.extra_participants = participants if participants is not None else 100 + seed % 9000 + posts // 3
        ch.invite_hash = self._new_hash()
        self.invites[ch.invite_hash] = ('channel', ch.id, False)
        self.channels[ch.id] = ch
        if posts:
            self._seed_posts(ch, posts, seed)
        return {'channel_id': ch.id, 'username': ch.username, 'invite_hash': ch.invite_hash}

    def create_group(self, title: str, *, members: list[int] | None = None) -> dict:
        group = GroupRec(id=self._next_group, title=title, date=self.now(), invite_hash=self._new_hash(),
                         members=set(members or ()))
        self._next_group += 1
        self.groups[group.id] = group
        self.invites[group.invite_hash] = ('group', group.id, False)
        return {'chat_id': group.id, 'invite_hash': group.invite_hash}

    def expire_invite(self, channel_id: int) -> str:
        """Revokes the channel's invite link (old hash → INVITE_HASH_EXPIRED) and returns a new one."""
        ch = self.channels[channel_id]
        self.invites[ch.invite_hash] = ('channel', ch.id, True)
        ch.invite_hash = self._new_hash()
        self.invites[ch.invite_hash] = ('channel', ch.id, False)
        return ch.invite_hash

    def add_member(self, channel_id: int, user_id: int) -> None:
        if user_id not in self.users:
            raise KeyError(f'no user {user_id}')
        ch = self.channels[channel_id]
        ch.members.add(user_id)
        self._mark_delivered(user_id, ch)

    def create_folder(self, user_id: int, title: str, channel_ids: list[int], *, emoticon: str | None = None) -> int:
        """A chat folder of the user's holding these channels; a folder holds only chats in one's dialogs, so the
        user becomes a member of each. Telegram's limits for an account without Premium: 10 folders, 100 chats
        in one."""
        user = self.users[user_id]
        if len(user.folders) >= FOLDERS_LIMIT:
            raise ValueError(f'at most {FOLDERS_LIMIT} folders (DIALOG_FILTERS_TOO_MUCH)')
        if len(channel_ids) > FOLDER_CHATS_LIMIT:
            raise ValueError(f'at most {FOLDER_CHATS_LIMIT} chats in a folder (FILTER_INCLUDE_TOO_MUCH)')
        for channel_id in channel_ids:
            self.add_member(channel_id, user_id)
        folder = FolderRec(id=2 + max((f.id - 1 for f in user.folders), default=0), title=title,
                           channel_ids=list(channel_ids), emoticon=emoticon)
        user.folders.append(folder)
        return folder.id

    def remove_member(self, channel_id: int, user_id: int) -> None:
        self.channels[channel_id].members.discard(user_id)

    def _make_message(self, ch: ChannelRec, message_id: int, fields: dict):
        replies = fields.get('replies')
        if isinstance(replies, int):
            replies = types.MessageReplies(replies=replies, replies_pts=replies,
                                           comments=ch.linked_chat_id is not None or None,
                                           channel_id=ch.linked_chat_id)
        reactions = fields.get('reactions')
        if reactions is not None and not isinstance(reactions, types.MessageReactions):
            reactions = content.reactions(reactions)
        fwd = fields.get('fwd_from')
        if isinstance(fwd, str):
            fwd = types.MessageFwdHeader(date=fields['date'], from_name=fwd)
        media = fields.get('media')
        if isinstance(media, str):
            media = content.media(media, self._media_id(), fields['date'], random.Random(message_id),
                                  fields.get('media_size'))
        if media is not None:
            media = self.register_media(media, (ch.id, message_id))
        text = fields.get('text') or ''
        entities = fields.get('entities')
        if entities is None:
            entities = content.detect_entities(text)
        return StoredMessage(
            id=message_id, peer_id=types.PeerChannel(ch.id), date=fields['date'], message=text,
            post=not ch.megagroup or None, entities=entities or None, media=media,
            views=fields.get('views', 0), forwards=fields.get('forwards', 0), replies=replies,
            edit_date=fields.get('edit_date'), post_author=fields.get('post_author'),
            grouped_id=fields.get('grouped_id'), reactions=reactions, fwd_from=fwd,
            pinned=fields.get('pinned') or None, silent=fields.get('silent') or None)

    def _media_id(self) -> int:
        self._next_media += 1
        return 7_000_000_000 + self._next_media

    def _seed_posts(self, ch: ChannelRec, count: int, seed: int) -> None:
        for fields in content.seeded_posts(seed, count):
            if ch.linked_chat_id is not None:  # its comments are real messages in the group: counted as they come
                fields.pop('replies', None)
            message = self._make_message(ch, len(ch.by_id), fields)
            message._bytes()  # serialize now, so paging a big channel costs the server next to nothing
            ch.store(message)
        ch.pts = count + 1
        ch.log_floor = ch.pts
        ch.last_event_ts = ch.dates[-1] if ch.dates else 0

    def post_message(self, channel_id: int, text: str = '', **fields) -> int:
        """Posts (and pushes to members) a message; returns its id.

        fields: media ('photo', 'video', 'audio', 'document' or a MessageMedia: another post's media is the same
        file), media_size (a document's bytes), entities (default: urls,
        mentions and hashtags found in the text), views, forwards, replies (int or MessageReplies), reactions
        ({emoji: count} or [(emoji, count)]), fwd_from (a source name or MessageFwdHeader), post_author,
        grouped_id, pinned, silent, edit_date, date.
        """
        ch = self.channels[channel_id]
        date = fields.pop('date', None) or self.now()
        if ch.dates and int(date.timestamp()) < ch.dates[-1]:
            date = datetime.fromtimestamp(ch.dates[-1], UTC)
        fields.setdefault('views', 1)
        message = self._make_message(ch, len(ch.by_id), {**fields, 'text': text, 'date': date})
        ch.store(message)
        self._record(ch, 'new', [message.id], 1)
        self.push_channel(ch, types.UpdateNewChannelMessage(message=message, pts=ch.pts, pts_count=1))
        return message.id

    def edit_message(self, channel_id: int, message_id: int, text: str | None = None, **fields) -> None:
        ch = self.channels[channel_id]
        old = ch.message(message_id)
        if old is None:
            raise KeyError(f'no message {message_id} in channel {channel_id}')
        merged = {
            'text': old.message, 'entities': old.entities, 'media': old.media, 'views': old.views,
            'forwards': old.forwards, 'replies': old.replies, 'reactions': old.reactions, 'fwd_from': old.fwd_from,
            'post_author': old.post_author, 'grouped_id': old.grouped_id, 'pinned': old.pinned, 'date': old.date,
        }
        if text is not None:
            merged['text'] = text
            merged['entities'] = None
        merged.update(fields)
        merged['edit_date'] = max(self.now(), old.date)
        message = self._make_message(ch, message_id, merged)
        ch.store(message)
        self._record(ch, 'edit', [message_id], 1)
        self.push_channel(ch, types.UpdateEditChannelMessage(message=message, pts=ch.pts, pts_count=1))

    def delete_messages(self, channel_id: int, message_ids: list[int]) -> list[int]:
        ch = self.channels[channel_id]
        deleted = [mid for mid in message_ids if ch.remove(mid)]
        if deleted:
            self._record(ch, 'delete', deleted, len(deleted))
            self.push_channel(ch, types.UpdateDeleteChannelMessages(
                channel_id=ch.id, messages=deleted, pts=ch.pts, pts_count=len(deleted)))
        return deleted

    def hide_from_history(self, channel_id: int, message_ids: list[int]) -> list[int]:
        """Leave these messages out of history pages from now on, as Telegram's history now and then leaves out
        messages that exist: reading them by id (channels.getMessages) still finds them. Returns the ids hidden."""
        ch = self.channels[channel_id]
        hidden = [mid for mid in message_ids if ch.message(mid) is not None]
        ch.hidden.update(hidden)
        return hidden

    def post_service(self, channel_id: int, title: str) -> int:
        """A service message (the channel renamed): it takes a message id, but is no post."""
        ch = self.channels[channel_id]
        date = self.now()
        if ch.dates and int(date.timestamp()) < ch.dates[-1]:
            date = datetime.fromtimestamp(ch.dates[-1], UTC)
        message = types.MessageService(id=len(ch.by_id), peer_id=types.PeerChannel(ch.id), date=date,
                                       action=types.MessageActionChatEditTitle(title=title), post=True)
        ch.store(message)
        ch.title = title
        self._record(ch, 'new', [message.id], 1)
        self.push_channel(ch, types.UpdateNewChannelMessage(message=message, pts=ch.pts, pts_count=1))
        return message.id

    def set_views(self, channel_id: int, message_id: int, views: int, *, forwards: int | None = None) -> None:
        ch = self.channels[channel_id]
        old = ch.message(message_id)
        if old is None:
            raise KeyError(f'no message {message_id} in channel {channel_id}')
        message = old.copy(views=views, forwards=old.forwards if forwards is None else forwards)
        ch.store(message)
        self.push_channel(ch, types.UpdateChannelMessageViews(channel_id=ch.id, id=message_id, views=views),
                          advances_pts=False)

    def channel_messages(self, channel_id: int) -> list:
        ch = self.channels[channel_id]
        return [ch.by_id[mid] for mid in ch.ids]

    def _record(self, ch: ChannelRec, kind: str, ids: list[int], pts_count: int) -> None:
        ch.pts += pts_count
        ch.last_event_ts = int(self.clock())
        ch.log.append(Event(pts=ch.pts, kind=kind, ids=ids, pts_count=pts_count, ts=ch.last_event_ts))

    def seed_demo(self) -> dict:
        return seed_demo(self)

    # ---- sessions ----------------------------------------------------------------------------------

    def attach(self, client) -> None:
        self.clients.add(client)

    def detach(self, client) -> None:
        self.clients.discard(client)

    def user_of(self, client) -> UserRec | None:
        user_id = self.auth.get(client.auth_key_id)
        return self.users.get(user_id) if user_id is not None else None

    def require_user(self, client) -> UserRec:
        user = self.user_of(client)
        if user is None:
            raise RpcError(401, 'AUTH_KEY_UNREGISTERED')
        return user

    def bind(self, client, user: UserRec) -> None:
        self.auth[client.auth_key_id] = user.id
        self.delivered[client.auth_key_id] = {
            ch.id: ch.pts for ch in self.channels.values() if user.id in ch.members}

    def _mark_delivered(self, user_id: int, ch: ChannelRec) -> None:
        for key, uid in self.auth.items():
            if uid == user_id:
                self.delivered.setdefault(key, {})[ch.id] = ch.pts

    async def invoke(self, client, request):
        while isinstance(request, _WRAPPERS):
            request = request.query
        name = f'{type(request).__module__.rsplit(".", 1)[-1]}_{type(request).__name__}'
        handler = getattr(self, 'rpc_' + name, None)
        if handler is None:
            log.warning('test DC does not implement %s', name)
            raise RpcError(400, 'METHOD_NOT_IMPLEMENTED')
        if name not in self.PUBLIC_METHODS:
            self.require_user(client)
        try:
            return handler(client, request)
        except RpcError:
            raise
        except Exception:
            log.exception('test DC failed to answer %s', name)
            raise RpcError(500, 'INTERNAL') from None
