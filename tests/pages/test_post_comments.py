"""A post's comments on its channel's page: the count opens them as a thread, answers under what they answer."""
from __future__ import annotations

import uuid

import pytest
from nicegui.testing import User

from tests.pages.test_channels_pages import WAIT, _backfilled, telegram_account, until
from tests.support import sign_in


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def test_the_comment_count_opens_the_thread(telegram_dc, user: User, app_root):
    await telegram_account(telegram_dc, app_root, 8, 'ThreadReader')
    info = telegram_dc.create_channel('Threads', username=f'pt_{uuid.uuid4().hex[:8]}')
    channel_id = info['channel_id']
    telegram_dc.create_discussion(channel_id)
    post = telegram_dc.post_message(channel_id, 'What do you think?')
    telegram_dc.post_message(channel_id, 'Nobody answers this one')
    question = telegram_dc.add_comment(channel_id, post, 'Is it true?', author='Mila')
    telegram_dc.add_comment(channel_id, post, 'Yes, it is', author='Petr', reply_to=question)
    telegram_dc.add_comment(channel_id, post, 'Nice post', author='Lev')
    await app_root.channels.add(f'@{info["username"]}')
    await until(lambda: _backfilled(app_root, channel_id))

    async def read():
        return len(await app_root.repos.comments.of_post(channel_id, post)) == 3
    await until(read)
    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{channel_id}')
    await user.should_see('What do you think?', retries=WAIT)
    cards = {int(card.props['data-post']): card.content
             for card in user.find(marker='posts-list').elements.pop().default_slot.children}
    assert 'data-mark="post-comments"' in cards[post] and 'data-mark="post-comments"' not in cards[post + 1]

    user.find(marker='posts-list').trigger('click', {'comments': post})
    await user.should_see('Post #1: 3 comments')
    shown = [(element.content, element.style) for element in user.find(marker='comments-dialog').elements.pop()
             .descendants() if getattr(element, 'content', None) and 'comment-text' in element.content]
    texts = [content.split('data-mark="comment-text">')[1].split('<')[0] for content, _ in shown]
    assert texts == ['Is it true?', 'Yes, it is', 'Nice post']  # the answer right under its question
    depths = [style.get('margin-left') for _, style in shown]
    assert depths == ['0.0rem', '1.25rem', '0.0rem']
