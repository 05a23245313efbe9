"""Word forms, as a reader of Russian and English expects them: every form finds every other, in text and query."""
import tantivy

from app.search.words import analyse, lemmas
from tests.search.conftest import post, store_posts

GROUPS = [  # the forms a person may type, and posts that each hold one form of the word
    (('канал', 'канала', 'каналы', 'каналах'),
     ('Новый канал открыт', 'Запись для канала готова', 'Все каналы молчат', 'Мы говорим о каналах')),
    (('ракета', 'ракеты', 'ракет', 'ракетами'),
     ('Ракета взлетела', 'Запуск ракеты отложен', 'Нет ракет', 'Над ракетами работают')),
    (('rocket', 'rockets'), ('A rocket flew', 'Two rockets flew')),
    (('launch', 'launched', 'launching'), ('They launched it', 'The launch is today', 'Launching soon')),
]


def test_lemmas_join_the_forms_snowball_keeps_apart():
    assert {lemmas('канал'), lemmas('канала'), lemmas('каналы')} == {('канал',)}
    assert 'ракета' in lemmas('ракеты') and lemmas('ракет') == ('ракета',)
    assert 'ёлка' not in lemmas('ёлки') and 'елка' in lemmas('ёлки')  # ё is written as е too
    snowball = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.stemmer('russian')).build()
    stems = {word: snowball.analyze(word)[0] for word in ('канал', 'канала', 'каналы')}
    assert len(set(stems.values())) == 2, stems  # why the stemmer alone is not enough
    assert analyse('Каналы, #Ракеты и @durov').tags == '#ракеты @durov'


async def test_every_form_of_a_word_finds_every_post_holding_any_form(channels, searching):
    texts = [text for _, group in GROUPS for text in group] + ['Ничего общего', 'Nothing in common']
    await store_posts(channels, [post(10, i, text) for i, text in enumerate(texts, start=1)])
    await searching.start()
    at = 1
    for forms, group in GROUPS:
        ids = list(range(at, at + len(group)))
        at += len(group)
        for form in forms:
            assert sorted(await searching.found(form)) == ids, form
    assert await searching.found('"каналы"') == [3]  # quoted: that form only
