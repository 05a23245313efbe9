"""Words as the search engine sees them: the same analysis for indexed text and for queries.

A word is matched by its dictionary form. Russian words go to pymorphy3 (its OpenCorpora dictionary; unknown
words by analogy), which gives "канал" for канал, канала, каналы and "ракета" for ракеты, ракет — Snowball's
Russian stemmer gives "кана" for the first two and "канал" for the third. A Russian form can belong to several
words ("стали": стать or сталь): every one is kept, for text and for queries, so a search for any form of a word
finds every post holding any form of it. English words are stemmed (Snowball, through Tantivy's own filter);
other scripts are matched as written. Each word is analysed once per process (a cache per word).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

WORD_RE = re.compile(r'[#@]?\w+', re.UNICODE)
CYRILLIC_RE = re.compile(r'[а-яё]')
LATIN_RE = re.compile(r'^[a-z]+$')
RUSSIAN_RE = re.compile(r'^[а-яё]+$')
MAX_WORDS = 5_000  # a post's words kept for the index: Telegram caps a post at 4,096 characters
CACHE_SIZE = 400_000

_lock = threading.Lock()
_morph = None
_english = None


def _analyzers():  # noqa: ANN202 - pymorphy3 and tantivy types
    global _morph, _english
    with _lock:
        if _morph is None:
            import pymorphy3
            import tantivy
            _english = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(
                tantivy.Filter.stemmer('english')).build()
            _morph = pymorphy3.MorphAnalyzer(lang='ru')
    return _morph, _english


def fold(word: str) -> str:
    """Lower case, ё as е (Russian texts write both)."""
    return word.lower().replace('ё', 'е')


@lru_cache(maxsize=CACHE_SIZE)
def lemmas(form: str) -> tuple[str, ...]:
    """The dictionary forms of one folded word (several when the form is ambiguous), first the likeliest."""
    if RUSSIAN_RE.match(form):
        morph, _ = _analyzers()
        found: dict[str, None] = {}
        for parse in morph.parse(form):
            found[fold(parse.normal_form)] = None
        return tuple(found) or (form,)
    if LATIN_RE.match(form):
        _, english = _analyzers()
        stems = english.analyze(form)
        return (stems[0],) if stems else (form,)
    return (form,)


@dataclass(frozen=True)
class Word:
    form: str  # folded, without a leading # or @
    start: int  # offsets in the text, for snippets
    end: int
    marker: str = ''  # '#' for a hashtag, '@' for a mention


def words(text: str, limit: int = MAX_WORDS) -> list[Word]:
    found = []
    for match in WORD_RE.finditer(text):
        token = match.group()
        marker = token[0] if token[0] in '#@' else ''
        form = fold(token[1:] if marker else token)
        if not form:
            continue
        found.append(Word(form, match.start(), match.end(), marker))
        if len(found) >= limit:
            break
    return found


@dataclass(frozen=True)
class Analysed:
    forms: str  # the words as written (folded), space-separated, in order: phrases and prefixes
    lemmas: str  # every dictionary form of every word: words
    tags: str  # hashtags and mentions with their marker: '#ракеты @durov'


def analyse(text: str) -> Analysed:
    found = words(text)
    tags = ' '.join(dict.fromkeys(word.marker + word.form for word in found if word.marker))
    return Analysed(forms=' '.join(word.form for word in found),
                    lemmas=' '.join(lemma for word in found for lemma in lemmas(word.form)),
                    tags=tags)


def hashtag_or_mention(token: str) -> bool:
    return len(token) > 1 and token[0] in '#@' and bool(WORD_RE.fullmatch(token))


def has_cyrillic(text: str) -> bool:
    return bool(CYRILLIC_RE.search(text.lower()))
