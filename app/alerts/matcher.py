"""Does one post match a search? The same answer the search index gives, worked out for one post in memory (an
alert cannot wait for, or depend on, this process's index): words by any of their forms, phrases as written,
prefixes, hashtags and mentions, exclusions, OR, and the resolved filters."""
from __future__ import annotations

from app.search.engine import IndexedPost, Scope
from app.search.query import Clause, Query, Term
from app.search.words import lemmas


class PostText:
    """A post's words, once, for every rule that looks at it."""

    def __init__(self, post: IndexedPost) -> None:
        self.post = post
        self.forms = post.forms.split()
        self.form_set = set(self.forms)
        self.lemmas = set(post.lemmas.split())
        self.tags = set(post.tags.split())

    def has(self, term: Term) -> bool:
        if term.kind == 'word':
            return any(lemma in self.lemmas for lemma in lemmas(term.words[0]))
        if term.kind == 'phrase':
            words, count = list(term.words), len(term.words)
            if count == 1:
                return words[0] in self.form_set
            return any(self.forms[at:at + count] == words for at in range(len(self.forms) - count + 1))
        if term.kind == 'prefix':
            return any(form.startswith(term.words[0]) for form in self.form_set)
        return term.words[0] in self.tags

    def meets(self, clause: Clause) -> bool:
        return any(self.has(term) for term in clause.terms) != clause.excluded


def in_scope(post: IndexedPost, scope: Scope) -> bool:
    checks = (
        scope.channel_ids is None or post.channel_id in scope.channel_ids,
        scope.forwarded_from is None or post.forwarded_from in scope.forwarded_from,
        scope.since is None or post.date >= scope.since,
        scope.until is None or post.date <= scope.until,
        scope.before_id is None or post.message_id < scope.before_id,
        not scope.min_views or post.views >= scope.min_views,
        not scope.media_types or post.media_type in scope.media_types,
        scope.has_media is None or (post.media_type is not None) == scope.has_media,
        scope.edited is None or post.edited == scope.edited,
        scope.deleted is None or post.deleted == scope.deleted,
        scope.comment is None or post.comment == scope.comment,
    )
    return all(checks)


def matches(query: Query, scope: Scope, text: PostText) -> bool:
    return in_scope(text.post, scope) and all(text.meets(clause) for clause in query.clauses)
