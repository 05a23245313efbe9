from datetime import UTC, datetime

from telethon.tl import types

from app.mtproto.mapping import channel_from_tl, post_from_message

DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _message(**fields):
    base = {'id': 7, 'peer_id': types.PeerChannel(555), 'date': DATE, 'message': ''}
    base.update(fields)
    return types.Message(**base)


def test_text_and_entities_including_text_urls_and_astral_characters():
    text = '😀 see https://a.example #news @someone and here'
    emoji_units = 2  # the emoji is two UTF-16 code units, so later offsets shift by one
    entities = [
        types.MessageEntityUrl(offset=6 + emoji_units - 1, length=17),
        types.MessageEntityHashtag(offset=24 + emoji_units - 1, length=5),
        types.MessageEntityMention(offset=30 + emoji_units - 1, length=8),
        types.MessageEntityTextUrl(offset=43 + emoji_units - 1, length=4, url='https://hidden.example/x'),
    ]
    post = post_from_message(_message(message=text, entities=entities), 555)
    assert post.text == text
    assert post.entities.urls == ['https://a.example', 'https://hidden.example/x']
    assert post.entities.hashtags == ['#news']
    assert post.entities.mentions == ['@someone']


def test_counters_reactions_forward_author_pinned_edit():
    message = _message(
        views=1500, forwards=12, replies=types.MessageReplies(replies=4, replies_pts=1),
        reactions=types.MessageReactions(results=[
            types.ReactionCount(reaction=types.ReactionEmoji('👍'), count=10),
            types.ReactionCount(reaction=types.ReactionCustomEmoji(99), count=2),
        ]),
        fwd_from=types.MessageFwdHeader(date=DATE, from_id=types.PeerChannel(777), channel_post=3),
        post_author='Editor', pinned=True, edit_date=datetime(2026, 1, 3, tzinfo=UTC), grouped_id=1234,
    )
    post = post_from_message(message, 555)
    assert (post.message_id, post.channel_id, post.date) == (7, 555, DATE)
    assert (post.views, post.forwards, post.replies) == (1500, 12, 4)
    assert [(r.emoji, r.count) for r in post.reactions] == [('👍', 10), ('custom:99', 2)]
    assert post.fwd_from.from_id == -1000000000777 and post.fwd_from.channel_post == 3 and post.fwd_from.date == DATE
    assert post.post_author == 'Editor' and post.pinned is True
    assert post.edit_date == datetime(2026, 1, 3, tzinfo=UTC) and post.grouped_id == 1234
    assert post.media is None and post.deleted is False


def test_media_summaries_without_download():
    photo = types.MessageMediaPhoto(photo=types.Photo(
        id=1, access_hash=2, file_reference=b'', date=DATE, dc_id=2,
        sizes=[types.PhotoSize('m', 320, 240, 1000), types.PhotoSize('y', 1280, 960, 90000)]))
    assert post_from_message(_message(media=photo), 1).media.model_dump(exclude_none=True) == {
        'type': 'photo', 'mime_type': 'image/jpeg', 'size': 90000, 'width': 1280, 'height': 960}

    video = types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=2, file_reference=b'', date=DATE, mime_type='video/mp4', size=5_000_000, dc_id=2,
        attributes=[types.DocumentAttributeVideo(duration=12.5, w=640, h=360),
                    types.DocumentAttributeFilename('clip.mp4')]))
    media = post_from_message(_message(media=video), 1).media
    assert (media.type, media.mime_type, media.size, media.file_name) == ('video', 'video/mp4', 5_000_000, 'clip.mp4')
    assert (media.width, media.height, media.duration) == (640, 360, 12.5)

    voice = types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=2, file_reference=b'', date=DATE, mime_type='audio/ogg', size=100, dc_id=2,
        attributes=[types.DocumentAttributeAudio(duration=3, voice=True)]))
    assert post_from_message(_message(media=voice), 1).media.type == 'voice'
    poll = types.MessageMediaPoll(
        poll=types.Poll(id=1, hash=0, question=types.TextWithEntities('q?', []), answers=[]),
        results=types.PollResults())
    assert post_from_message(_message(media=poll), 1).media.type == 'poll'


def test_service_messages_are_not_posts():
    service = types.MessageService(id=1, peer_id=types.PeerChannel(5), date=DATE,
                                   action=types.MessageActionChannelCreate('x'))
    assert post_from_message(service, 5) is None


def test_channel_metadata_from_channel_and_full():
    chat = types.Channel(id=555, title='News', photo=types.ChatPhotoEmpty(), date=DATE, access_hash=42,
                         username='news_chan', broadcast=True, participants_count=None)
    full = types.ChannelFull(
        id=555, about='About us', read_inbox_max_id=0, read_outbox_max_id=0, unread_count=0,
        chat_photo=types.PhotoEmpty(0), notify_settings=types.PeerNotifySettings(), pts=1,
        bot_info=[], participants_count=1234, linked_chat_id=999)
    channel = channel_from_tl(chat, full)
    assert (channel.id, channel.title, channel.username, channel.about) == (555, 'News', 'news_chan', 'About us')
    assert (channel.participants_count, channel.linked_chat_id, channel.broadcast) == (1234, 999, True)
    assert channel.photo is None
