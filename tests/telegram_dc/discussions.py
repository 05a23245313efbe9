"""Discussion groups: comments under a channel's posts, as Telegram keeps them.

A broadcast channel may be linked to a discussion group (a supergroup; `linked_chat_id` both ways). The first
comment on a post makes its thread: Telegram forwards the post into the group, and every comment is a message of
the group replying to that copy (`reply_to.reply_to_msg_id`, and `reply_to_top_id` for a reply to a comment). The
post's `replies` counts its comments and names the group. `messages.getReplies` pages a post's comments like
history, newest first; members of the group get each new, edited or deleted comment live.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from telethon.tl import types

from .errors import RpcError
from .state import ChannelRec, StoredMessage, UserRec, window

MAX_LIMIT = 100
_NAMES = ('Anna', 'Boris', 'Chloe', 'Dmitry', 'Elena', 'Farid', 'Greta', 'Ivan')
_PHRASES = ('Thanks for the update', 'Спасибо, очень интересно', 'Is there a source for this?', 'Согласен полностью',
            'This aged well', 'Где можно почитать подробнее?', 'Great thread', 'Не верю ни одному слову')


class DiscussionHandlers:
    channels: dict[int, ChannelRec]
    users: dict[int, UserRec]
    commenters: dict[str, int]  # a commenter's name → the user made for it

    # ---- control API ----------------------------------------------------------------------------------

    def create_discussion(self, channel_id: int, title: str | None = None, *, members: list[int] | None = None) -> int:
        """A discussion group linked to the channel; returns its id. `members` get its comments live."""
        ch = self.channels[channel_id]
        info = self.create_channel(title or f'{ch.title} Chat', megagroup=True, linked_chat_id=channel_id, photo=False,
                                   participants=0)
        group = self.channels[info['channel_id']]
        group.members.update(members or ())
        ch.linked_chat_id = group.id
        return group.id

    def add_comment(self, channel_id: int, post_id: int, text: str, *, author: int | str = 'Reader',
                    reply_to: int | None = None, reactions: dict[str, int] | None = None,
                    date: datetime | None = None) -> int:
        """A comment under the post (or, with `reply_to`, a reply to one of its comments) by a user id or a name
        (a new user of that name); returns the comment's id in the discussion group."""
        ch = self.channels[channel_id]
        group = self._discussion(ch)
        top = self._thread(ch, group, post_id)
        user = self._author(author)
        if reply_to is not None and self._top_of(group, reply_to) != top:
            raise ValueError(f'comment {reply_to} is not under post {post_id}')
        header = types.MessageReplyHeader(reply_to_msg_id=reply_to or top, reply_to_top_id=top if reply_to else None)
        date = self._next_date(group, date)
        message = StoredMessage(
            id=len(group.by_id), peer_id=types.PeerChannel(group.id), date=date, message=text,
            from_id=types.PeerUser(user.id), reply_to=header, entities=None,
            reactions=self._reactions(reactions))
        group.store(message)
        group.comments.setdefault(top, []).append(message.id)
        self._record(group, 'new', [message.id], 1)
        self.push_channel(group, types.UpdateNewChannelMessage(message=message, pts=group.pts, pts_count=1),
                          users=[user])  # as Telegram does: the author comes with the update
        self._count_comments(ch, group, post_id)
        return message.id

    def edit_comment(self, group_id: int, comment_id: int, text: str) -> None:
        group = self.channels[group_id]
        old = group.message(comment_id)
        if old is None or getattr(old, 'from_id', None) is None:
            raise KeyError(f'no comment {comment_id} in group {group_id}')
        message = old.copy(message=text, edit_date=max(self.now(), old.date))
        group.store(message)
        self._record(group, 'edit', [comment_id], 1)
        author = self.users.get(getattr(old.from_id, 'user_id', 0))
        self.push_channel(group, types.UpdateEditChannelMessage(message=message, pts=group.pts, pts_count=1),
                          users=[author] if author else None)

    def delete_comments(self, group_id: int, comment_ids: list[int]) -> list[int]:
        group = self.channels[group_id]
        tops = {self._top_of(group, cid) for cid in comment_ids}
        deleted = self.delete_messages(group_id, comment_ids)
        for top in tops - {None}:
            group.comments[top] = [cid for cid in group.comments.get(top, []) if cid not in deleted]
            channel = self.channels[group.linked_chat_id]
            self._count_comments(channel, group, group.threads_by_top[top])
        return deleted

    def seed_comments(self, channel_id: int, post_ids: list[int], *, per_post: int = 3, seed: int = 0) -> int:
        """Comments under each of these posts, from a few named readers, some replying to others."""
        rng = random.Random(seed)
        made = 0
        for post_id in post_ids:
            ids: list[int] = []
            for n in range(per_post):
                reply_to = rng.choice(ids) if ids and rng.random() < 0.3 else None
                reactions = {'👍': rng.randint(1, 40)} if rng.random() < 0.3 else None
                ids.append(self.add_comment(channel_id, post_id, f'{rng.choice(_PHRASES)} ({post_id}.{n})',
                                            author=rng.choice(_NAMES), reply_to=reply_to, reactions=reactions))
                made += 1
        return made

    # ---- Telegram's method ------------------------------------------------------------------------------

    def rpc_messages_GetRepliesRequest(self, client, req):
        me = self.require_user(client)
        ch = self.readable_channel(me, req.peer)
        group = self.channels.get(ch.linked_chat_id) if ch.linked_chat_id and not ch.megagroup else None
        if ch.message(req.msg_id) is None:
            raise RpcError(400, 'MSG_ID_INVALID')
        top = group.threads.get(req.msg_id) if group is not None else None
        ids = [cid for cid in (group.comments.get(top, []) if top else []) if group.message(cid) is not None]
        if group is None:
            return types.messages.ChannelMessages(pts=ch.pts, count=0, messages=[], topics=[],
                                                  chats=[self.channel_tl(ch, me.id)], users=[])
        dates = [int(group.by_id[cid].date.timestamp()) for cid in ids]
        limit = max(0, min(req.limit or 0, MAX_LIMIT))
        offset_date = int(req.offset_date.timestamp()) if req.offset_date else 0
        picked = window(ids, dates, offset_id=req.offset_id or 0, offset_date=offset_date,
                        add_offset=req.add_offset or 0, limit=limit)
        if req.max_id:
            picked = [cid for cid in picked if cid < req.max_id]
        if req.min_id:
            picked = [cid for cid in picked if cid > req.min_id]
        messages = [group.by_id[cid] for cid in picked]
        authors = {m.from_id.user_id for m in messages if isinstance(m.from_id, types.PeerUser)}
        return types.messages.ChannelMessages(
            pts=group.pts, count=len(ids), messages=messages, topics=[],
            chats=[self.channel_tl(group, me.id), self.channel_tl(ch, me.id)],
            users=[self.user_tl(self.users[uid], me.id) for uid in sorted(authors) if uid in self.users])

    # ---- inside -----------------------------------------------------------------------------------------

    def _discussion(self, ch: ChannelRec) -> ChannelRec:
        group = self.channels.get(ch.linked_chat_id) if ch.linked_chat_id else None
        if group is None or not group.megagroup:
            raise ValueError(f'channel {ch.id} has no discussion group (create_discussion first)')
        return group

    def _thread(self, ch: ChannelRec, group: ChannelRec, post_id: int) -> int:
        """The group's copy of the post, made by its first comment (Telegram forwards the post into the group)."""
        top = group.threads.get(post_id)
        if top is not None:
            return top
        post = ch.message(post_id)
        if post is None:
            raise KeyError(f'no post {post_id} in channel {ch.id}')
        copy = StoredMessage(
            id=len(group.by_id), peer_id=types.PeerChannel(group.id), date=self._next_date(group, post.date),
            message=post.message, entities=post.entities, from_id=types.PeerChannel(ch.id),
            fwd_from=types.MessageFwdHeader(date=post.date, from_id=types.PeerChannel(ch.id), channel_post=post_id,
                                            saved_from_peer=types.PeerChannel(ch.id), saved_from_msg_id=post_id))
        group.store(copy)
        self._record(group, 'new', [copy.id], 1)
        self.push_channel(group, types.UpdateNewChannelMessage(message=copy, pts=group.pts, pts_count=1))
        group.threads[post_id] = copy.id
        group.threads_by_top[copy.id] = post_id
        return copy.id

    def _top_of(self, group: ChannelRec, comment_id: int) -> int | None:
        message = group.message(comment_id)
        header = getattr(message, 'reply_to', None)
        if header is None:
            return None
        return header.reply_to_top_id or header.reply_to_msg_id

    def _count_comments(self, ch: ChannelRec, group: ChannelRec, post_id: int) -> None:
        post = ch.message(post_id)
        if post is None:
            return
        ids = [cid for cid in group.comments.get(group.threads[post_id], []) if group.message(cid) is not None]
        ch.store(post.copy(replies=types.MessageReplies(
            replies=len(ids), replies_pts=group.pts, comments=True, channel_id=group.id,
            max_id=max(ids) if ids else None)))

    def _author(self, author: int | str) -> UserRec:
        if isinstance(author, int):
            return self.users[author]
        known = self.commenters.get(author)
        if known is not None:
            return self.users[known]
        user = UserRec(id=self._next_user, phone=f'4200{self._next_user}', first_name=author)  # never logs in
        self._next_user += 1
        self.users[user.id] = self.users.setdefault(user.id, user)
        self.commenters[author] = user.id
        return user

    def _next_date(self, group: ChannelRec, date: datetime | None) -> datetime:
        date = date or self.now()
        if group.dates and int(date.timestamp()) < group.dates[-1]:
            date = datetime.fromtimestamp(group.dates[-1], UTC)
        return date

    @staticmethod
    def _reactions(counts: dict[str, int] | None):
        if not counts:
            return None
        return types.MessageReactions(
            results=[types.ReactionCount(types.ReactionEmoji(emoji), count) for emoji, count in counts.items()])
