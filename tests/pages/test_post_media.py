"""Media on a channel's page: inline thumbnails, a video's duration, an album as one card, a download that keeps
the file, the channel's storage, and a delete that asks whether to keep the files."""
from __future__ import annotations

import uuid

import pytest
from nicegui.testing import User

from app.pages.post_card import duration_text
from tests.pages.test_channels_pages import WAIT, _backfilled, telegram_account, until
from tests.support import sign_in


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def _open_channel(telegram_dc, user: User, app_root, channel_id: int, username: str, first_text: str) -> None:
    """Add the channel, wait for its backfill, sign in and open its page at its newest post."""
    await app_root.channels.add(f'@{username}')
    await until(lambda: _backfilled(app_root, channel_id))
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see(first_text, retries=WAIT)


def _cards(user: User) -> list:
    return list(user.find(marker='posts-list').elements.pop().default_slot.children)


async def test_thumbnails_albums_a_kept_download_storage_and_a_delete_that_asks(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 6, 'MediaPage')
    info = telegram_dc.create_channel('Pictures', username=f'pm_{uuid.uuid4().hex[:8]}')
    channel_id = info['channel_id']
    photo = telegram_dc.post_message(channel_id, 'A harbour at dawn', media='photo')
    video = telegram_dc.post_message(channel_id, 'A short clip', media='video', media_size=600_000)
    album = [telegram_dc.post_message(channel_id, 'Three views of the bay' if n == 0 else '', media='photo',
                                      grouped_id=77_000 + channel_id) for n in range(3)]
    telegram_dc.post_message(channel_id, 'A report', media='document', media_size=5_000)
    await _open_channel(telegram_dc, user, app_root, channel_id, info['username'], 'A harbour at dawn')
    cards = {int(card.props['data-post']): card.content for card in _cards(user)}
    assert len(cards) == 4  # three posts of one album make one card
    [album_id] = [post for post, content in cards.items() if 'data-mark="post-album"' in content]
    album_card = cards[album_id]
    assert album_id in album and f'https://t.me/{info["username"]}/{album[0]}' in album_card  # the captioned one
    assert album_card.count('data-mark="media-thumb"') == 3 and 'Three views of the bay' in album_card
    assert 'data:image/jpeg;base64,' in cards[photo] and 'data-mark="media-download"' in cards[photo]
    duration = telegram_dc.media_of(channel_id, video).document.attributes[0].duration
    assert f'data-mark="media-duration">{duration_text(duration)}<' in cards[video] and 'play_circle' in cards[video]
    assert '585.9 KB' in cards[video]  # its size beside the download button
    await user.should_not_see(marker='channel-storage')  # nothing kept yet

    user.find(marker='posts-list').trigger('click', {'download': video})
    response = await user.download.next(timeout=30)
    assert response.status_code == 200 and response.content == telegram_dc.file_content(channel_id, video)
    assert response.headers['content-disposition'].startswith('attachment')
    await user.should_see('1 file kept, 585.9 KB: video 1', retries=WAIT)  # the header follows

    await user.open('/dashboard/channels')
    await user.should_see(marker=f'channel-{channel_id}', retries=WAIT)
    user.find(marker='delete-channel').click()
    await user.should_see('Keep its 1 kept file (585.9 KB): they stay downloadable')
    user.find(marker='keep-files').click()  # no: delete the files too
    user.find(marker='confirm-delete').click()
    await user.should_not_see(marker=f'channel-{channel_id}', retries=WAIT)
    assert await app_root.repos.media.files.count_documents({}) == 0
    assert await app_root.repos.media.chunks.count_documents({}) == 0


async def test_a_download_policy_set_on_the_page_keeps_the_files_and_says_so(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 7, 'PolicyPage')
    info = telegram_dc.create_channel('Policy', username=f'pp_{uuid.uuid4().hex[:8]}')
    channel_id = info['channel_id']
    photos = [telegram_dc.post_message(channel_id, f'photo {n}', media='photo') for n in range(3)]
    telegram_dc.post_message(channel_id, 'a clip', media='video', media_size=100_000)
    await _open_channel(telegram_dc, user, app_root, channel_id, info['username'], 'photo 2')
    user.find(marker='media-policy').click()
    await user.should_see(marker='media-policy-dialog')
    user.find(marker='media-policy-enabled').click()
    user.find(marker='media-policy-save').click()
    await user.should_see('Every file the policy asks for is kept.', retries=WAIT)
    assert await app_root.repos.media.kept_ids(channel_id) == set(photos)  # photos only, by default
    await user.should_see('3 files kept', retries=WAIT)
