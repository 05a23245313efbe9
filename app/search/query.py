"""The query language, one for the search page, the channel page and the API.

    ракеты запуск            both words, each in any of its forms
    "точная фраза"           the words in this order, as written
    запуск*                  any word starting so
    -слово  -"фраза"         posts without it
    ракета OR ракеты         either (OR binds tighter than the space between words)
    #хэштег  @username       the hashtag or mention
    channel:@name  channel:-1001234  tag:news  from:@source  since:2026-01-31  until:2026-02-28
    has:media  media:video  views:1000  is:edited  is:deleted  -is:deleted  is:comment

A malformed query raises QueryError saying where (the column, counted from 1) and how to write it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.i18n import LazyText, lazy
from app.search.words import WORD_RE, fold, words

MAX_QUERY_CHARS = 1_000
MAX_TERMS = 40
MIN_PREFIX = 2
MEDIA_TYPES = ('photo', 'video', 'audio', 'voice', 'document', 'sticker', 'gif', 'webpage', 'poll', 'geo', 'contact',
               'other')
FILTER_KEYS = ('channel', 'tag', 'from', 'since', 'until', 'has', 'media', 'views', 'is')
FILTER_RE = re.compile(r'([a-z_]+):(\S*)')


class QueryError(ValueError):
    def __init__(self, message: LazyText, column: int) -> None:
        super().__init__(str(message))
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Term:
    kind: str  # 'word', 'phrase', 'prefix', 'tag'
    words: tuple[str, ...]  # folded; one for word, prefix and tag ('#x' / '@x'), several for a phrase


@dataclass(frozen=True)
class Clause:
    terms: tuple[Term, ...]  # any of them (OR)
    excluded: bool = False


@dataclass
class Filters:
    channels: list[str] = field(default_factory=list)  # as written: ids, -100 ids, @usernames, links
    tags: list[str] = field(default_factory=list)
    forwarded_from: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    has_media: bool | None = None
    media_types: list[str] = field(default_factory=list)
    min_views: int | None = None
    edited: bool | None = None
    deleted: bool | None = None
    comment: bool | None = None  # is:comment (comments only), -is:comment (posts only)


@dataclass
class Query:
    clauses: list[Clause] = field(default_factory=list)
    filters: Filters = field(default_factory=Filters)

    @property
    def has_text(self) -> bool:
        return any(not clause.excluded for clause in self.clauses)


def parse_date(value: str, *, end: bool = False) -> datetime:
    """A plain date (the whole day; `until` includes it) or an ISO date-time; naive means UTC."""
    value = value.strip()
    if re.fullmatch(r'\d{4}-\d{2}-\d{2}', value):
        day = datetime.strptime(value, '%Y-%m-%d').replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    parsed = datetime.fromisoformat(value.replace('Z', '+00:00'))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.query = Query()
        self.terms = 0

    def fail(self, message: LazyText, at: int | None = None) -> QueryError:
        return QueryError(message, (self.at if at is None else at) + 1)

    def parse(self) -> Query:
        if len(self.text) > MAX_QUERY_CHARS:
            raise QueryError(lazy('The query is longer than {limit} characters: shorten it.', limit=MAX_QUERY_CHARS),
                             MAX_QUERY_CHARS + 1)
        pending: list[Term] = []
        pending_excluded = False
        expect_alternative = False
        or_at = 0
        while True:
            self.skip_space()
            if self.at >= len(self.text):
                break
            start = self.at
            if self.text.startswith('OR', self.at) and self.boundary(self.at + 2):
                if not pending or pending_excluded or expect_alternative:
                    raise self.fail(lazy('OR needs a word on each side, like: ракета OR ракеты.'))
                or_at = self.at
                self.at += 2
                expect_alternative = True
                continue
            excluded = False
            if self.text[self.at] == '-' and self.at + 1 < len(self.text) and not self.text[self.at + 1].isspace():
                excluded = True
                self.at += 1
            elif self.text[self.at] == '-':
                raise self.fail(lazy('A minus excludes what follows it without a space, like: -реклама.'))
            term = self.term(excluded, start)
            if term is None:  # a filter, already recorded
                if expect_alternative:
                    raise self.fail(lazy('OR joins words, not filters.'), start)
                continue
            if expect_alternative:
                if excluded:
                    raise self.fail(lazy('OR joins words to find, not excluded ones.'), start)
                pending.append(term)
                expect_alternative = False
                continue
            if pending:
                self.add(pending, pending_excluded)
            pending, pending_excluded = [term], excluded
        if expect_alternative:
            raise self.fail(lazy('OR needs a word on each side, like: ракета OR ракеты.'), or_at)
        if pending:
            self.add(pending, pending_excluded)
        return self.query

    def add(self, terms: list[Term], excluded: bool) -> None:
        self.query.clauses.append(Clause(tuple(terms), excluded))

    def skip_space(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def boundary(self, at: int) -> bool:
        return at >= len(self.text) or self.text[at].isspace()

    def count(self, start: int) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(lazy('The query has more than {limit} words: shorten it.', limit=MAX_TERMS), start)

    def term(self, excluded: bool, start: int) -> Term | None:
        char = self.text[self.at]
        if char == '"':
            close = self.text.find('"', self.at + 1)
            if close < 0:
                raise self.fail(lazy('The quote opened here is not closed: add a closing ".'))
            inner = self.text[self.at + 1:close]
            self.at = close + 1
            found = tuple(word.form for word in words(inner))
            if not found:
                raise self.fail(lazy('The quotes hold no word to look for.'), start)
            self.count(start)
            return Term('phrase', found)  # one quoted word: that form exactly
        end = self.at
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        token = self.text[self.at:end]
        filter_match = FILTER_RE.fullmatch(token)
        if filter_match and not filter_match.group(2).startswith('//'):
            self.filter(filter_match.group(1), filter_match.group(2), excluded, start)
            self.at = end
            return None
        self.at = end
        if token.endswith('*'):
            stem = token[:-1]
            if not WORD_RE.fullmatch(stem) or stem[0] in '#@':
                raise self.fail(lazy('A * ends a word to find words starting so, like: запуск*.'), end - 1)
            if len(stem) < MIN_PREFIX:
                raise self.fail(lazy('Give at least {count} letters before the *.', count=MIN_PREFIX), start)
            self.count(start)
            return Term('prefix', (fold(stem),))
        if token[0] in '#@' and WORD_RE.fullmatch(token):
            self.count(start)
            return Term('tag', (token[0] + fold(token[1:]),))
        found = words(token)
        if not found:
            if excluded:
                raise self.fail(lazy('A minus excludes what follows it without a space, like: -реклама.'), start)
            return None  # punctuation alone: nothing to look for
        self.count(start)
        forms = tuple(word.form for word in found)
        # "covid-19" or "e-mail": the written pieces in order, like a phrase
        return Term('word', forms) if len(forms) == 1 else Term('phrase', forms)

    def filter(self, key: str, value: str, excluded: bool, start: int) -> None:
        filters = self.query.filters
        if key not in FILTER_KEYS:
            raise self.fail(lazy('Unknown filter "{key}:"; filters are {keys}.', key=key,
                                 keys=', '.join(f'{name}:' for name in FILTER_KEYS)), start)
        if not value:
            raise self.fail(lazy('The filter "{key}:" needs a value right after the colon.', key=key), start)
        if excluded and key != 'is':
            raise self.fail(lazy('Only is: can be excluded (-is:deleted); leave out the minus.'), start)
        if key == 'channel':
            filters.channels.append(value)
        elif key == 'tag':
            filters.tags.append(value)
        elif key == 'from':
            filters.forwarded_from.append(value)
        elif key in ('since', 'until'):
            try:
                moment = parse_date(value, end=key == 'until')
            except ValueError:
                raise self.fail(lazy('"{value}" is not a date: write it as 2026-01-31.', value=value), start) from None
            setattr(filters, key, moment)
        elif key == 'has':
            if value != 'media':
                raise self.fail(lazy('Write has:media.'), start)
            filters.has_media = True
        elif key == 'media':
            if value not in MEDIA_TYPES:
                raise self.fail(lazy('Unknown media type "{value}"; types are {types}.', value=value,
                                     types=', '.join(MEDIA_TYPES)), start)
            filters.media_types.append(value)
        elif key == 'views':
            digits = value.removeprefix('>=').removeprefix('>')
            if not digits.isdigit():
                raise self.fail(lazy('Write the least number of views as views:1000.'), start)
            filters.min_views = int(digits)
        elif key == 'is':
            if value not in ('edited', 'deleted', 'comment'):
                raise self.fail(lazy('Write is:edited, is:deleted or is:comment.'), start)
            setattr(filters, value, not excluded)


def parse(text: str) -> Query:
    return _Parser(text or '').parse()
