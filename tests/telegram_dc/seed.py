"""Demo content so a person can try Parsegram against the test DC without a Telegram account."""

DEMO_PHONE = '9996621234'
DEMO_PASSWORD = 'parsegram-demo'


def seed_demo(world) -> dict:
    user_id = world.create_user(DEMO_PHONE, 'Demo', last_name='User', username='parsegram_demo_user',
                                password=DEMO_PASSWORD, hint='parsegram-…')
    discussion = world.create_channel('Parsegram Demo Chat', username='parsegram_demo_chat', megagroup=True,
                                      about='Discussion group of the demo news channel.')
    specs = [
        ('Parsegram Demo News', 'parsegram_demo_news', 5000, 1,
         'Five thousand seeded posts: links, mentions, media, albums, reactions and forwards.'),
        ('Parsegram Demo Tech', 'parsegram_demo_tech', 300, 2, 'A smaller channel with a few hundred posts.'),
        ('Parsegram Demo Quiet', 'parsegram_demo_quiet', 12, 3, 'Hardly anything happens here.'),
    ]
    channels = []
    for title, username, posts, seed, about in specs:
        linked = discussion['channel_id'] if username == 'parsegram_demo_news' else None
        info = world.create_channel(title, username=username, posts=posts, seed=seed, about=about,
                                    linked_chat_id=linked)
        channels.append({**info, 'title': title, 'posts': posts})
    private = world.create_channel('Parsegram Demo Private', private=True, posts=50, seed=4,
                                   about='Only reachable through its invite link.')
    channels.append({**private, 'title': 'Parsegram Demo Private', 'posts': 50})
    news = channels[0]['channel_id']
    world.channels[discussion['channel_id']].linked_chat_id = news
    world.seed_comments(news, list(range(4961, 5001)), per_post=4, seed=11)  # the newest 40 posts have comments
    channels.append({**discussion, 'title': 'Parsegram Demo Chat', 'posts': 0})
    for info in channels:
        world.add_member(info['channel_id'], user_id)
    return {
        'user': {'user_id': user_id, 'phone': DEMO_PHONE, 'code': DEMO_PHONE[5] * 5, 'password': DEMO_PASSWORD},
        'channels': channels,
    }
