"""The dashboard's and the API's language: English or Russian, from gettext catalogs read with Babel.

`_('Text {name}', name=...)` translates into the language of whoever is being answered and fills the
placeholders; `n_('{n} post', '{n} posts', n)` picks the plural form by that language's rules (1 пост, 2 поста,
5 постов); `lazy(...)` keeps the message untranslated until it is shown (module constants, errors raised away
from a request). The language is the one chosen in the header (remembered per browser), else the browser's
Accept-Language, else English. `python -m app.i18n` updates the Russian catalog from the source.
"""
from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = {'en': 'English', 'ru': 'Русский'}
DEFAULT_LANGUAGE = 'en'
DOMAIN = 'messages'
LOCALES_DIR = Path(__file__).parent / 'locales'
STORAGE_KEY = 'language'

_forced: ContextVar[str | None] = ContextVar('parsegram_language', default=None)


def catalog_path(language: str) -> Path:
    return LOCALES_DIR / language / 'LC_MESSAGES' / f'{DOMAIN}.po'


@cache
def _catalog(language: str) -> Catalog | None:
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return None
    with path.open('rb') as source:
        return read_po(source, locale=language)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalog, compiled in memory from its .po file (no compiled files in the tree)."""
    catalog = _catalog(language)
    if catalog is None:
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, so they show in English
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def _shapes(language: str) -> list[tuple[re.Pattern[str], str]]:
    """Every message with placeholders as a pattern that finds its values in the English text made from it."""
    catalog = _catalog(language)
    shapes: list[tuple[int, re.Pattern[str], str]] = []
    for message in catalog or ():
        if not isinstance(message.id, str) or '{' not in message.id or not message.string or message.fuzzy:
            continue
        pattern, seen = [], set()
        for literal, name in _PARTS.findall(message.id):
            if literal:
                pattern.append(re.escape(literal))
            elif name in seen:
                pattern.append(f'(?P={name})')
            else:
                seen.add(name)
                pattern.append(f'(?P<{name}>.+?)')
        literal_length = sum(len(literal) for literal, _name in _PARTS.findall(message.id))
        shapes.append((literal_length, re.compile(''.join(pattern), re.DOTALL), message.id))
    shapes.sort(key=lambda shape: -shape[0])  # the most specific shape first
    return [(pattern, message_id) for _length, pattern, message_id in shapes]


_PARTS = re.compile(r'([^{]+|\{\{|\}\})|\{(\w+)\}')


def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header ('ru-RU,ru;q=0.9,en;q=0.8' → 'ru')."""
    wanted: list[tuple[float, str]] = []
    for position, part in enumerate((accept_language or '')[:500].split(',')[:20]):
        tag, _sep, params = part.strip().partition(';')
        quality = 1.0
        if params.strip().startswith('q='):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            wanted.append((-quality + position * 1e-6, tag.replace('_', '-')))
    best = Locale.negotiate([tag for _key, tag in sorted(wanted)], list(LANGUAGES), sep='-')
    return str(best) if best is not None else DEFAULT_LANGUAGE


def request_language(request: Any) -> str:
    """The language for an HTTP request: the browser's remembered choice, else its Accept-Language."""
    if request is None:
        return DEFAULT_LANGUAGE
    state = getattr(request, 'state', None)
    cached = getattr(state, 'parsegram_language', None) if state is not None else None
    if cached is not None:
        return cached
    language = _stored_choice(request) or negotiate(request.headers.get('accept-language'))
    if state is not None:
        state.parsegram_language = language
    return language


def _stored_choice(request: Any) -> str | None:
    from nicegui import app  # noqa: PLC0415
    from nicegui.storage import request_contextvar  # noqa: PLC0415
    if request is not request_contextvar.get():
        return None
    try:
        choice = app.storage.user.get(STORAGE_KEY)
    except (AssertionError, RuntimeError, KeyError):  # an API request: no browser storage behind it
        return None
    return choice if choice in LANGUAGES else None


def current_language() -> str:
    forced = _forced.get()
    if forced is not None:
        return forced
    from nicegui.storage import request_contextvar  # noqa: PLC0415
    return request_language(request_contextvar.get())


@contextmanager
def use_language(language: str) -> Iterator[str]:
    """Answer in `language` inside the block, whatever the request says (tests, background work)."""
    token = _forced.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield _forced.get() or DEFAULT_LANGUAGE
    finally:
        _forced.reset(token)


def _(message: str, /, **params: Any) -> str:
    text = translations(current_language()).gettext(message)
    return text.format(**params) if params else text


def n_(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """A counted message; `{n}` in it is the count, formatted for the language (12 345)."""
    language = current_language()
    text = translations(language).ngettext(singular, plural, n)
    return text.format(n=number(n, language), **params)


class LazyText(str):
    """A message translated when it is shown: str() of it is English, `.render()` the current language."""

    def __new__(cls, message: str, params: dict[str, Any]) -> LazyText:
        text = super().__new__(cls, message.format(**params) if params else message)
        text.message, text.params = message, params
        return text

    def render(self) -> str:
        params = {name: render(value) for name, value in self.params.items()}
        return _(self.message, **params)


def lazy(message: str, /, **params: Any) -> LazyText:
    return LazyText(message, params)


def duration(seconds: float, *, padded: bool = False) -> LazyText:
    """'45 s', '4 min 5 s', '3 h 0 min': a wait or a time left, rendered in the reader's language. `padded` keeps
    a countdown's width steady: '0 min 05 s', '1 h 09 min'."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)

    def two(n: int) -> int | str:
        return f'{n:02d}' if padded else n
    if hours:
        return lazy('{h} h {m} min', h=hours, m=two(minutes))
    if minutes or padded:
        return lazy('{m} min {s} s', m=minutes, s=two(secs))
    return lazy('{s} s', s=secs)


def translate_text(text: str) -> str:
    """English text made from a catalog message (an error stored with a job, a reason kept with a queued
    reference, a message from the service layer) in the current language, its values kept; text that no
    message made stays as it is."""
    if isinstance(text, LazyText):
        return text.render()
    language = current_language()
    if not text or language == DEFAULT_LANGUAGE:
        return text
    direct = translations(language).gettext(text)
    if direct != text:
        return direct
    for pattern, message in _shapes(language):
        match = pattern.fullmatch(text)
        if match is not None:  # a value may itself be a message (a reason inside a sentence)
            return _(message, **{name: translate_text(value) for name, value in match.groupdict().items()})
    return text


def render(text: Any) -> Any:
    """Translate a LazyText into the current language; anything else is given back as it is."""
    return text.render() if isinstance(text, LazyText) else text


def number(value: float, language: str | None = None) -> str:
    return format_decimal(value, locale=language or current_language())


def file_size(value: int) -> str:
    """A number of bytes as people read it: 830 bytes, 14.2 KB, 3.5 MB, 1.2 GB (units of 1,024)."""
    if value < 1024:
        return _('{n} B', n=number(value))
    for unit in ('KB', 'MB', 'GB'):
        value /= 1024
        if value < 1024 or unit == 'GB':
            break
    amount = number(round(value, 1))
    return {'KB': _('{n} KB', n=amount), 'MB': _('{n} MB', n=amount)}.get(unit) or _('{n} GB', n=amount)


def plural_forms(singular: str, plural: str, language: str | None = None) -> dict[str, str]:
    """One counted message in every CLDR plural category of the language ({'one': ..., 'few': ..., 'many': ...}),
    for the browser to choose with Intl.PluralRules."""
    return dict(_plural_forms(singular, plural, language or current_language()))


@cache
def _plural_forms(singular: str, plural: str, language: str) -> tuple[tuple[str, str], ...]:
    """Each relative time on a page asks for these: the catalogs do not change, so each is worked out once."""
    rule = Locale.parse(language).plural_form
    forms: dict[str, str] = {}
    for n in range(0, 200):
        category = rule(n)
        if category not in forms:
            forms[category] = translations(language).ngettext(singular, plural, n)
    forms.setdefault('other', forms.get('many', plural))
    return tuple(forms.items())

