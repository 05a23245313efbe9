"""The catalogs: every message in app/ has a Russian translation with the same placeholders, none fuzzy or
stale; the language follows Accept-Language; counted messages take Russian plural forms."""
from __future__ import annotations

import re

import pytest

from app.i18n import _, negotiate, plural_forms, render, use_language
from app.i18n.catalog import APP_DIR, extract, load
from app.mtproto.channels import flood_wait_error
from app.mtproto.limits import CLASS_LABELS, MethodClass

PLACEHOLDER = re.compile(r'\{(\w*)\}')


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def test_every_message_in_the_source_has_a_russian_translation() -> None:
    source = {_ids(message)[0]: message for message in extract() if message.id}
    russian = {_ids(message)[0]: message for message in load('ru') if message.id}
    assert len(source) > 40
    missing = sorted(key for key in source if key not in russian)
    assert not missing, f'not in the Russian catalog (run python -m app.i18n, then translate): {missing}'
    stale = sorted(key for key in russian if key not in source)
    assert not stale, f'in the catalog but no longer in the source (run python -m app.i18n): {stale}'
    for key, message in russian.items():
        assert not message.fuzzy, f'fuzzy: {key!r}'
        assert all(_strings(message)), f'untranslated: {key!r}'
        assert len(_strings(message)) == len(_ids(source[key])) or len(_ids(source[key])) == 2, key
        wanted = set(PLACEHOLDER.findall(key))
        for string in _strings(message):
            assert set(PLACEHOLDER.findall(string)) == wanted, f'placeholders differ: {key!r} → {string!r}'


def test_no_message_hides_inside_an_f_string() -> None:
    """Babel reads an f-string as one string: a `_()` inside it never reaches the catalog."""
    hidden = [f'{path.relative_to(APP_DIR.parent)}:{number}'
              for path in sorted(APP_DIR.rglob('*.py'))
              for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1)
              if re.search(r"""f(['"]).*\{(_|n_|lazy)\(""", line)]
    assert not hidden, f'compute the message before the f-string: {hidden}'


@pytest.mark.parametrize(('header', 'language'), [
    ('ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7', 'ru'),
    ('en-GB,en;q=0.9,ru;q=0.8', 'en'),
    ('de-DE,de;q=0.9,ru;q=0.5', 'ru'),
    ('en;q=0.2, ru;q=0.9', 'ru'),
    ('uk-UA,uk;q=0.9', 'en'),
    ('', 'en'),
    ('ru;q=abc,;;;,,', 'en'),
    ('*', 'en'),
])
def test_the_language_follows_accept_language(header: str, language: str) -> None:
    assert negotiate(header) == language


def test_russian_text_and_its_placeholders() -> None:
    with use_language('ru'):
        assert _('Wrong password. Wait {seconds} s before the next try.', seconds=4) == \
            'Неверный пароль. Подождите 4 с перед следующей попыткой.'
    with use_language('en'):
        assert _('Wrong password.') == 'Wrong password.'
    with use_language('xx'):
        assert _('Wrong password.') == 'Wrong password.'


def test_plural_forms_for_the_browser() -> None:
    assert set(plural_forms('{n} minute ago', '{n} minutes ago', 'en')) == {'one', 'other'}
    assert set(plural_forms('{n} minute ago', '{n} minutes ago', 'ru')) >= {'one', 'few', 'many', 'other'}


@pytest.mark.parametrize('kind', list(MethodClass))
def test_a_wait_names_its_request_class_in_the_reader_s_language(kind) -> None:
    error = flood_wait_error(90, kind)
    with use_language('ru'):
        russian = render(error.message)
    with use_language('en'):
        english = render(error.message)
    assert not re.search(r'[A-Za-z]{3,}', russian.replace('Telegram', '')), russian  # no English word left in it
    assert str(CLASS_LABELS[kind]) in english


def test_a_queued_line_s_stored_reason_reads_in_russian_with_its_values() -> None:
    """A waiting line's reason is kept in English in the database; the page shows it in the reader's language."""
    from app.i18n import lazy, translate_text  # noqa: PLC0415
    from app.mtproto.limits import class_label  # noqa: PLC0415
    stored = str(lazy('Telegram asked {account} to wait (FLOOD_WAIT) before more {kind} requests', account='Анна',
                      kind=class_label(MethodClass.RESOLVE)))
    with use_language('ru'):
        assert translate_text(stored) == ('Telegram попросил аккаунт Анна подождать (FLOOD_WAIT) перед новыми '
                                          'запросами «поиск по имени»')
