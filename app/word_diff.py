"""A word-level diff of two texts, for showing what an edit changed (any script: Cyrillic words are words too)."""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Literal

TOKEN = re.compile(r'\w+|\s+|[^\w\s]', re.UNICODE)  # words, runs of space, single signs

Op = Literal['same', 'del', 'ins']


def word_diff(old: str, new: str) -> list[tuple[Op, str]]:
    """Runs of (same | del | ins, text) that turn `old` into `new`, word by word; neighbouring runs of one kind
    are joined, so "the quick fox" → "the slow fox" is same 'the ', del 'quick', ins 'slow', same ' fox'."""
    before, after = TOKEN.findall(old or ''), TOKEN.findall(new or '')
    runs: list[tuple[Op, str]] = []

    def add(op: Op, tokens: list[str]) -> None:
        text = ''.join(tokens)
        if not text:
            return
        if runs and runs[-1][0] == op:
            runs[-1] = (op, runs[-1][1] + text)
        else:
            runs.append((op, text))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == 'equal':
            add('same', before[i1:i2])
        else:
            add('del', before[i1:i2])
            add('ins', after[j1:j2])
    return runs
