"""The embedded engine: a Tantivy index on disk (BM25, phrases on word positions, prefixes through the term
dictionary). Text comes in analysed (app.search.words), so the index's own tokenizer only splits on spaces.

Fields: `forms` (the words as written, with positions: phrases and prefixes), `lemmas` (dictionary forms: words),
`tags` (hashtags and mentions), and the filters and sort keys as fast fields. The feed position the index is
current to is kept next to it in parsegram.json, written after each commit: after a crash the index is at most
one batch behind its file, and the batch is applied again (each post replaces itself).
"""
from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import tantivy

from app.search.engine import Hit, Hits, IndexedPost, Scope, Sort, post_key
from app.search.query import Clause, Query, Term
from app.search.words import lemmas

FORMAT = 3  # 2: each post's stored form; 3: comments too
STATE_FILE = 'parsegram.json'
TOKENIZER = 'pg_words'
WRITER_HEAP = 64 * 1024 * 1024
MAX_TIES = 1_000  # equals read past a page to order them alike in every index


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field('key', tokenizer_name='raw', index_option='basic')  # to replace or delete a post
    builder.add_integer_field('channel_id', indexed=True, fast=True)
    builder.add_integer_field('message_id', indexed=True, fast=True)
    builder.add_integer_field('date', indexed=True, fast=True)  # seconds since the epoch
    builder.add_integer_field('views', indexed=True, fast=True)
    builder.add_integer_field('forwarded_from', indexed=True)
    builder.add_boolean_field('has_media', indexed=True)
    builder.add_boolean_field('edited', indexed=True)
    builder.add_boolean_field('deleted', indexed=True)
    builder.add_boolean_field('comment', indexed=True)
    builder.add_text_field('media', tokenizer_name='raw', index_option='basic')
    builder.add_text_field('forms', tokenizer_name=TOKENIZER, index_option='position')
    builder.add_text_field('lemmas', tokenizer_name=TOKENIZER, index_option='freq')
    builder.add_text_field('tags', tokenizer_name=TOKENIZER, index_option='basic')
    builder.add_bytes_field('post', stored=True, indexed=False, fast=False)
    return builder.build()


class TantivyEngine:
    format = FORMAT

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        state = self._read_state()
        if state.get('format') != FORMAT:  # another format (or none): start empty, the caller rebuilds
            for item in path.iterdir():
                if item.is_file():
                    item.unlink()
            state = {}
        self._state = state
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        self.writer = self.index.writer(WRITER_HEAP, 1)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ state

    def _read_state(self) -> dict:
        try:
            return json.loads((self.path / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def stored_format(self) -> int | None:
        return self._state.get('format')

    def position(self) -> int:
        return int(self._state.get('position', 0))

    def count(self) -> int:
        return self.index.searcher().num_docs

    # ------------------------------------------------------------ writing

    def _document(self, post: IndexedPost) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text('key', post_key(post.channel_id, post.message_id))
        doc.add_integer('channel_id', post.channel_id)
        doc.add_integer('message_id', post.message_id)
        doc.add_integer('date', int(post.date.timestamp()))
        doc.add_integer('views', post.views)
        if post.forwarded_from is not None:
            doc.add_integer('forwarded_from', post.forwarded_from)
        doc.add_boolean('has_media', post.media_type is not None)
        doc.add_boolean('edited', post.edited)
        doc.add_boolean('deleted', post.deleted)
        doc.add_boolean('comment', post.comment)
        if post.media_type:
            doc.add_text('media', post.media_type)
        doc.add_text('forms', post.forms)
        doc.add_text('lemmas', post.lemmas)
        doc.add_text('tags', post.tags)
        doc.add_bytes('post', post.stored)
        return doc

    def upsert(self, posts: list[IndexedPost]) -> None:
        documents = [self._document(post) for post in posts]
        with self._lock:
            for post, document in zip(posts, documents, strict=True):
                self.writer.delete_documents_by_term('key', post_key(post.channel_id, post.message_id))
                self.writer.add_document(document)

    def delete(self, keys: list[tuple[int, int]]) -> None:
        with self._lock:
            for channel_id, message_id in keys:
                self.writer.delete_documents_by_term('key', post_key(channel_id, message_id))

    def delete_channel(self, channel_id: int) -> None:
        with self._lock:
            self.writer.delete_documents_by_term('channel_id', channel_id)

    def clear(self) -> None:
        with self._lock:
            self.writer.delete_all_documents()
            self.writer.commit()
            self._write_state(0)
        self.index.reload()

    def commit(self, position: int) -> None:
        with self._lock:
            self.writer.commit()
            self._write_state(position)
        self.index.reload()

    def _write_state(self, position: int) -> None:
        self._state = {'format': FORMAT, 'position': position}
        temporary = self.path / (STATE_FILE + '.tmp')
        temporary.write_text(json.dumps(self._state))
        os.replace(temporary, self.path / STATE_FILE)

    def close(self) -> None:
        with self._lock:
            self.writer.wait_merging_threads()

    # ------------------------------------------------------------ searching

    def _term(self, term: Term) -> tantivy.Query:
        schema = self.schema
        if term.kind == 'word':
            found = [tantivy.Query.term_query(schema, 'lemmas', lemma) for lemma in lemmas(term.words[0])]
            return found[0] if len(found) == 1 else tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, query) for query in found])
        if term.kind == 'phrase':
            if len(term.words) == 1:
                return tantivy.Query.term_query(schema, 'forms', term.words[0])
            return tantivy.Query.phrase_query(schema, 'forms', list(term.words))
        if term.kind == 'prefix':
            return tantivy.Query.regex_query(schema, 'forms', re.escape(term.words[0]) + '.*')
        return tantivy.Query.term_query(schema, 'tags', term.words[0])

    def _clause(self, clause: Clause) -> tantivy.Query:
        queries = [self._term(term) for term in clause.terms]
        return queries[0] if len(queries) == 1 else tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, query) for query in queries])

    def _any_of(self, field: str, values: list) -> tantivy.Query:
        if not values:
            return tantivy.Query.empty_query()
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, field, value)) for value in values])

    def _filters(self, scope: Scope) -> list[tantivy.Query]:
        schema, integer = self.schema, tantivy.FieldType.Integer
        found = []
        if scope.channel_ids is not None:
            found.append(self._any_of('channel_id', scope.channel_ids))
        if scope.forwarded_from is not None:
            found.append(self._any_of('forwarded_from', scope.forwarded_from))
        if scope.since or scope.until:
            found.append(tantivy.Query.range_query(
                schema, 'date', integer, int(scope.since.timestamp()) if scope.since else None,
                int(scope.until.timestamp()) if scope.until else None))
        if scope.before_id is not None:
            found.append(tantivy.Query.range_query(schema, 'message_id', integer, None, scope.before_id - 1))
        if scope.min_views:
            found.append(tantivy.Query.range_query(schema, 'views', integer, scope.min_views, None))
        if scope.media_types:
            found.append(self._any_of('media', scope.media_types))
        for name in ('has_media', 'edited', 'deleted', 'comment'):
            value = getattr(scope, name)
            if value is not None:
                found.append(tantivy.Query.term_query(schema, name, value))
        return found

    def compile(self, query: Query, scope: Scope) -> tantivy.Query:
        parts: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for clause in query.clauses:
            parts.append((tantivy.Occur.MustNot if clause.excluded else tantivy.Occur.Must, self._clause(clause)))
        for condition in self._filters(scope):  # filters narrow, they do not change the ranking
            parts.append((tantivy.Occur.Must, tantivy.Query.const_score_query(condition, 0.0)))
        if not any(occur == tantivy.Occur.Must for occur, _ in parts):
            parts.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(parts)

    def search(self, query: Query, scope: Scope, sort: Sort, offset: int, limit: int, *,
               stored: bool = True) -> Hits:
        """Hits [offset, offset + limit) in one order every index agrees on: by score (or date, or views), and
        among equals the newest first, then by key. Tantivy breaks ties by where a post sits in its own index,
        so the group of equals that the page cuts through is read whole (up to MAX_TIES more) and sorted."""
        scores = sort  # what the order key is: a score only when ranked by relevance
        if sort == Sort.RELEVANCE and all(term.kind == 'prefix' for clause in query.clauses if not clause.excluded
                                          for term in clause.terms):
            scores = sort = Sort.DATE  # nothing to rank by (no words, or prefixes only): every post scores the same
        compiled = self.compile(query, scope)
        searcher = self.index.searcher()
        options: dict = {'count': True}
        if sort != Sort.RELEVANCE:
            options['order_by_field'] = 'date' if sort == Sort.DATE else 'views'
            options['order'] = tantivy.Order.Desc
        want = offset + max(1, limit)
        fetch = want
        while True:
            result = searcher.search(compiled, limit=fetch + 1, **options)
            ranked = [(self._tie_key(order_key), address) for order_key, address in result.hits]
            cut = ranked[want - 1][0] if len(ranked) >= want else None
            if cut is None or len(ranked) <= fetch or ranked[-1][0] != cut or fetch >= want + MAX_TIES:
                break
            fetch = want + MAX_TIES  # the last group of equals goes on past what was read
        if offset >= len(ranked):
            return Hits(total=result.count or 0, hits=[])
        first, last = ranked[offset][0], ranked[min(want, len(ranked)) - 1][0]
        # the page lies within the groups from `first` down to `last`: only they need their dates and keys
        page = [(key, address) for key, address in ranked if first >= key >= last]
        before = sum(1 for key, _ in ranked if key > first)
        addresses = [address for _, address in page]  # read from the fast fields: no stored document is opened
        dates = searcher.fast_field_values('date', addresses)
        channels = searcher.fast_field_values('channel_id', addresses)
        messages = searcher.fast_field_values('message_id', addresses)
        found = sorted(zip([-key for key, _ in page], [-date for date in dates], channels, messages,
                           range(len(page)), strict=True))
        found = found[offset - before:offset - before + limit]
        hits = [Hit(channel_id, message_id, -order_key if scores == Sort.RELEVANCE else None,
                    searcher.doc(page[at][1])['post'][0] if stored else b'')
                for order_key, _, channel_id, message_id, at in found]
        return Hits(total=result.count or 0, hits=hits)

    @staticmethod
    def _tie_key(order_key: float | int) -> float:
        """Scores that differ only in float noise count as equal (two indexes sum them in other orders)."""
        return round(float(order_key), 5)
