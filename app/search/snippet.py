"""Snippets: the part of a post where the query's words are densest, HTML-escaped, each hit as <mark>…</mark>.

Hits are found with the same analysis the engine uses (app.search.words): a word matches a query word when they
share a dictionary form, so "каналы" is marked for a search of "канал"; phrases are marked where the whole phrase
stands, prefixes on any word starting so, hashtags and mentions as written.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from app.search.query import Query
from app.search.words import Word, lemmas, words

WIDTH = 240
LEAD = 60  # characters kept before the first hit of the window


@dataclass
class Matcher:
    lemmas: set[str]
    phrases: list[tuple[str, ...]]
    prefixes: tuple[str, ...]
    tags: set[str]

    @classmethod
    def of(cls, query: Query) -> Matcher:
        found = cls(set(), [], (), set())
        prefixes = []
        for clause in query.clauses:
            if clause.excluded:
                continue
            for term in clause.terms:
                if term.kind == 'word':
                    found.lemmas.update(lemmas(term.words[0]))
                elif term.kind == 'phrase':
                    found.phrases.append(term.words)
                elif term.kind == 'prefix':
                    prefixes.append(term.words[0])
                else:
                    found.tags.add(term.words[0])
        found.prefixes = tuple(prefixes)
        return found

    def hits(self, text: str) -> list[Word]:
        found = words(text)
        marked = [False] * len(found)
        for i, word in enumerate(found):
            if ((self.lemmas and not self.lemmas.isdisjoint(lemmas(word.form)))
                    or (self.prefixes and word.form.startswith(self.prefixes))
                    or (word.marker and word.marker + word.form in self.tags)):
                marked[i] = True
        for phrase in self.phrases:
            size = len(phrase)
            for i in range(len(found) - size + 1):
                if all(found[i + k].form == phrase[k] for k in range(size)):
                    for k in range(size):
                        marked[i + k] = True
        return [word for word, mark in zip(found, marked, strict=True) if mark]


def _marked(text: str, hits: list[Word], start: int, end: int) -> str:
    parts, at = [], start
    for hit in hits:
        if hit.start < start or hit.end > end:
            continue
        parts.append(html.escape(text[at:hit.start]))
        parts.append('<mark>' + html.escape(text[hit.start:hit.end]) + '</mark>')
        at = hit.end
    parts.append(html.escape(text[at:end]))
    return ''.join(parts)


def highlight(text: str, matcher: Matcher) -> str:
    """The whole text, escaped, with every hit marked."""
    return _marked(text, matcher.hits(text), 0, len(text))


def snippet(text: str, matcher: Matcher, width: int = WIDTH) -> str:
    """About `width` characters around the densest hits (the text's start when none), escaped and marked."""
    text = text or ''
    if len(text) <= width:
        return highlight(text, matcher)
    hits = matcher.hits(text)
    start = 0
    if hits:
        best, best_count = hits[0], 0
        for i, hit in enumerate(hits):
            count = sum(1 for other in hits[i:] if other.end - hit.start <= width - LEAD)
            if count > best_count:
                best, best_count = hit, count
        start = max(0, best.start - LEAD)
        if start:  # begin at a word
            space = text.rfind(' ', 0, start + 1)
            start = space + 1 if space >= 0 and best.start - space <= LEAD + 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(' ', start, end)
        end = space if space > start + width // 2 else end
    body = _marked(text, hits, start, end).strip()
    return ('…' if start else '') + body + ('…' if end < len(text) else '')
