from app.word_diff import word_diff


def test_an_edit_shows_the_words_that_changed_in_english_and_russian():
    assert word_diff('the quick fox', 'the slow fox') == [('same', 'the '), ('del', 'quick'), ('ins', 'slow'),
                                                         ('same', ' fox')]
    # a changed word form is one changed word, not a changed letter
    assert word_diff('Запуск ракеты перенесли.', 'Запуск ракет перенесли на завтра.') == [
        ('same', 'Запуск '), ('del', 'ракеты'), ('ins', 'ракет'), ('same', ' перенесли'), ('ins', ' на завтра'),
        ('same', '.')]
    assert word_diff('', 'new text') == [('ins', 'new text')]
    assert word_diff('same', 'same') == [('same', 'same')]
