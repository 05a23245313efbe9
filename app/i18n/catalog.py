"""Keeping the catalogs in step with the source: extraction of every `_`, `n_`, `lazy` and `plural_forms` message
under app/."""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog_path

APP_DIR = Path(__file__).resolve().parent.parent
KEYWORDS = {'_': None, 'n_': (1, 2), 'lazy': None, 'plural_forms': (1, 2)}
METHODS = [('**.py', 'python')]


def extract() -> Catalog:
    """A template catalog of every translatable message in app/, in source order."""
    template = Catalog(project='Parsegram', fuzzy=False)
    for filename, lineno, message, comments, _context in extract_from_dir(
            APP_DIR, METHODS, keywords=KEYWORDS, comment_tags=('TRANSLATORS:',), strip_comment_tags=True):
        template.add(message, locations=[(f'app/{filename}', lineno)], auto_comments=comments)
    return template


HEADER = {'project': 'Parsegram', 'version': '', 'copyright_holder': 'the Parsegram authors',
          'msgid_bugs_address': '', 'last_translator': 'the Parsegram authors', 'language_team': ''}


def load(language: str) -> Catalog:
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=language, fuzzy=False, **HEADER)
    with path.open('rb') as source:
        return read_po(source, locale=language)


def update(language: str) -> tuple[Catalog, int]:
    """Merge the source's messages into the language's catalog: new ones empty, vanished ones dropped; the
    header is the same each time, so the file changes only where its messages do."""
    catalog = load(language)
    template = extract()
    template.creation_date = catalog.creation_date
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    for name, value in HEADER.items():
        setattr(catalog, name, value)
    catalog.header_comment = f'# Parsegram in "{language}"; python -m app.i18n keeps it in step with the source.'
    catalog.revision_date = catalog.creation_date
    path = catalog_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('wb') as target:
        write_po(target, catalog, width=120, include_lineno=False, sort_by_file=False, ignore_obsolete=True)
    missing = sum(1 for message in catalog if message.id and not _translated(message))
    return catalog, missing


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(strings) and not message.fuzzy


def main() -> None:
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        catalog, missing = update(language)
        print(f'{catalog_path(language)}: {len(catalog)} messages, {missing} still to translate')


if __name__ == '__main__':
    main()
