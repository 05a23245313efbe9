"""One post as HTML, the same on a channel's page and in search results: its date linking to t.me, versions,
badges and counters; its text escaped, hashtags and mentions linking to a search for them, the search's hits
marked, and long texts folded behind "show more" (a click in the browser, no round trip)."""
from __future__ import annotations

import base64
from html import escape
from urllib.parse import urlencode

from app.db.models import Channel, Comment, Post
from app.export import item_link
from app.i18n import _, file_size, n_, number, render
from app.mtproto.mapping import thumb_jpeg
from app.pages.post_versions import MEDIA_NAMES
from app.search.snippet import WIDTH, Matcher
from app.search.words import words

DOWNLOADABLE = {'photo', 'video', 'audio', 'voice', 'document', 'sticker', 'gif'}  # media with a file behind it
FOLD_CHARS = 700
FOLD_LINES = 10
TOGGLE = ("const t = this.previousElementSibling; t.classList.toggle('pg-open'); "
          "this.textContent = t.classList.contains('pg-open') ? this.dataset.less : this.dataset.more")


def search_url(**params: str | list[str]) -> str:
    return '/dashboard/search?' + urlencode(params, doseq=True)


def text_html(text: str, matcher: Matcher | None = None) -> str:
    """The text escaped; each hashtag and mention a link to a search for it; each hit of `matcher` marked."""
    hits = {(word.start, word.end) for word in matcher.hits(text)} if matcher else set()
    parts, at = [], 0
    for word in words(text):
        hit = (word.start, word.end) in hits
        if not (word.marker or hit):
            continue
        inner = escape(text[word.start:word.end])
        if hit:
            inner = f'<mark>{inner}</mark>'
        if word.marker:
            inner = (f'<a class="nicegui-link pg-tag" href="{escape(search_url(q=word.marker + word.form))}">'
                     f'{inner}</a>')
        parts.append(escape(text[at:word.start]) + inner)
        at = word.end
    parts.append(escape(text[at:]))
    return ''.join(parts)


def _folded(body: str, long: bool) -> str:
    if not long:
        return f'<div class="pg-post-text" data-mark="post-text">{body}</div>'
    more, less = escape(_('show more')), escape(_('show less'))
    return (f'<div class="pg-post-text pg-fold" data-mark="post-text">{body}</div>'
            f'<span class="pg-more" role="button" tabindex="0" data-more="{more}" data-less="{less}" '
            f'data-mark="show-more" onclick="{TOGGLE}" onkeydown="if (event.key === \'Enter\') this.click()">'
            f'{more}</span>')


def is_long(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count('\n') >= FOLD_LINES


def head_html(channel: Channel, post: Post, *, show_channel: bool = False) -> str:
    deleted, pinned, versions, edited = _('deleted'), _('pinned'), _('versions'), _('edited')
    show_comments = _('Show the comments')
    counters = (('visibility', post.views, _('views')), ('shortcut', post.forwards, _('forwards')),
                ('chat_bubble_outline', post.replies, _('replies')))
    head = []
    if show_channel:
        head.append(f'<a class="nicegui-link pg-channel-name" href="/dashboard/channels/{channel.id}" '
                    f'data-mark="result-channel">{escape(channel.title or str(channel.id))}</a>')
    head.append(f'<a class="nicegui-link" href="{escape(item_link(channel, post))}" target="_blank" '
                f'rel="noopener" data-mark="post-link">{post.date:%Y-%m-%d %H:%M}</a>')
    if isinstance(post, Comment):
        under = _('comment by {author} under #{post}', author=post.post_author or _('someone'), post=post.post_id)
        head.append(f'<span data-mark="result-comment">{escape(under)}</span>')
    if show_channel:
        in_parsegram = escape(_('in Parsegram'))
        at = post.post_id if isinstance(post, Comment) else post.message_id
        head.append(f'<a class="nicegui-link" href="/dashboard/channels/{channel.id}?at={at}" '
                    f'data-mark="result-open">{in_parsegram}</a>')
    if post.edits:  # opens the versions, word by word
        times = n_('edited {n} time', 'edited {n} times', post.edits)
        head.append(f'<span class="pg-versions-link" role="button" tabindex="0" data-versions="{post.message_id}" '
                    f'data-mark="post-edited">{escape(times)}</span>')
    elif post.version > 1:  # deleted (or back again) without an edit: its versions still tell when
        head.append(f'<span class="pg-versions-link" role="button" tabindex="0" data-versions="{post.message_id}" '
                    f'data-mark="post-versions">{escape(versions)}</span>')
    elif post.edit_date:  # edited on Telegram before Parsegram first saw it
        head.append(f'<span>{escape(edited)}</span>')
    if post.deleted:
        head.append(f'<span class="q-badge bg-negative text-white pg-badge" data-mark="post-deleted">'
                    f'{escape(deleted)}</span>')
    if post.pinned:
        head.append(f'<i class="material-icons" title="{escape(pinned)}">push_pin</i>')
    if post.media:
        media = render(MEDIA_NAMES.get(post.media.type, post.media.type))
        head.append(f'<span class="q-badge bg-grey-7 text-white pg-badge">{escape(media)}</span>')
    head.append('<span class="pg-spacer"></span>')
    for icon, value, meaning in counters:
        counter = f'<i class="material-icons" aria-hidden="true">{icon}</i>{escape(number(value or 0))}'
        if icon == 'chat_bubble_outline' and value and channel.linked_chat_id:  # opens its comments
            head.append(f'<span class="pg-counter pg-versions-link" role="button" tabindex="0" '
                        f'data-comments="{post.message_id}" title="{escape(show_comments)}" '
                        f'data-mark="post-comments">{counter}</span>')
        else:
            head.append(f'<span class="pg-counter" title="{escape(meaning)}">{counter}</span>')
    if post.reactions:
        reactions = '  '.join(f'{r.emoji} {r.count}' for r in post.reactions[:6])
        head.append(f'<span>{escape(reactions)}</span>')
    return f'<div class="pg-post-head">{"".join(head)}</div>'


def media_url(post: Post, *, download: bool = False) -> str:
    url = f'/dashboard/channels/{post.channel_id}/posts/{post.message_id}/media'
    return url + '?download=true' if download else url


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02}:{secs:02}' if hours else f'{minutes}:{secs:02}'


def media_html(post: Post) -> str:
    """The post's photo or video as its inline thumbnail (a click opens it; it is kept then), a video's duration,
    a file's name, and a download button with the size. Empty for posts without a file."""
    media = post.media
    if media is None or media.type not in DOWNLOADABLE or isinstance(post, Comment):  # comments' files: not yet
        return ''
    parts = []
    if post.thumb and media.type in ('photo', 'video', 'gif'):
        src = 'data:image/jpeg;base64,' + base64.b64encode(thumb_jpeg(post.thumb)).decode()
        kind = render(MEDIA_NAMES.get(media.type, media.type))
        over = ''
        if media.type != 'photo':
            over = '<i class="material-icons pg-play" aria-hidden="true">play_circle</i>'
            if media.duration:
                over += f'<span class="pg-duration" data-mark="media-duration">{duration_text(media.duration)}</span>'
        title = _('Open the {kind}', kind=kind)
        parts.append(f'<a class="pg-thumb" href="{escape(media_url(post))}" target="_blank" rel="noopener" '
                     f'title="{escape(title)}" data-mark="media-thumb">'
                     f'<img src="{src}" alt="{escape(kind)}" width="{_thumb_width(media)}" height="96">{over}</a>')
    elif media.file_name:
        parts.append(f'<span class="pg-file-name">{escape(media.file_name)}</span>')
    size = f' {escape(file_size(media.size))}' if media.size else ''
    download = _('Download the file')
    parts.append(f'<a class="pg-download nicegui-link" href="{escape(media_url(post, download=True))}" '
                 f'data-download="{post.message_id}" title="{escape(download)}" '
                 f'data-mark="media-download"><i class="material-icons" aria-hidden="true">download</i>{size}</a>')
    return f'<div class="pg-media">{"".join(parts)}</div>'


def _thumb_width(media) -> int:
    if media.width and media.height:
        return max(48, min(240, round(96 * media.width / media.height)))
    return 128


def post_html(channel: Channel, post: Post, *, matcher: Matcher | None = None, show_channel: bool = False) -> str:
    text = _folded(text_html(post.text, matcher), is_long(post.text)) if post.text else ''
    return head_html(channel, post, show_channel=show_channel) + media_html(post) + text


def album_html(channel: Channel, posts: list[Post], *, matcher: Matcher | None = None) -> str:
    """Posts sent together (an album): one card, the head and caption of the one that has the text, every file."""
    captioned = next((post for post in posts if post.text), posts[0])
    text = _folded(text_html(captioned.text, matcher), is_long(captioned.text)) if captioned.text else ''
    files = ''.join(media_html(post) for post in sorted(posts, key=lambda p: p.message_id))
    return head_html(channel, captioned) + f'<div class="pg-album" data-mark="post-album">{files}</div>' + text


def result_html(channel: Channel, post: Post, snippet: str, matcher: Matcher) -> str:
    """A search result: the snippet around its hits; "show more" opens the whole text, its hits marked."""
    head = head_html(channel, post, show_channel=True) + media_html(post)
    if not post.text:
        return head
    if len(post.text) <= WIDTH:  # the snippet would be all of it: the text itself, with its links
        return head + _folded(text_html(post.text, matcher), False)
    more, less = escape(_('show more')), escape(_('show less'))
    return (head + f'<div class="pg-post-text pg-snippet" data-mark="post-text">{snippet}</div>'
            f'<div class="pg-post-text pg-whole" data-mark="post-full">{text_html(post.text, matcher)}</div>'
            f'<span class="pg-more" role="button" tabindex="0" data-more="{more}" data-less="{less}" '
            f'data-mark="show-more" onclick="{TOGGLE}" onkeydown="if (event.key === \'Enter\') this.click()">'
            f'{more}</span>')
