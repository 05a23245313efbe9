"""What every page shares, the login page included: colours, phone-width rules, the remembered dark mode and
the language switch."""
from __future__ import annotations

import copy
from typing import TypeVar

from nicegui import app, ui

from app.i18n import LANGUAGES, STORAGE_KEY, current_language, lazy, render

E = TypeVar('E', bound=ui.element)
QUASAR_LANGUAGES = {'en': 'en-US', 'ru': 'ru'}
DARK_KEY = 'dark'  # None follows the system, True dark, False light
DARK_ICONS = {None: 'brightness_auto', True: 'dark_mode', False: 'light_mode'}
DARK_NEXT = {None: True, True: False, False: None}
# Phone widths (Quasar's xs, under 600 px): rows wrap instead of pushing the page sideways; `pg-` classes mark
# the few places that need it. Every text and background pair reads at WCAG AA (4.5:1) in both themes: the brand
# colours are dark enough for white badge text and light text, and dark mode lightens coloured text; notices keep
# dark text on their light backgrounds; charts are SVG, so their text and grid follow the theme here too.
CSS = """
@layer theme {  /* important rules of the first layer win over Quasar's own important colour classes */
  .body--dark .text-grey-7, .body--dark .text-grey-8 { color: #b0b7c3 !important; }
  .body--dark .text-primary { color: #8ab4f8 !important; }
  .body--dark .text-positive { color: #6fd08c !important; }
  .body--dark .text-negative { color: #ff8a80 !important; }
  body:not(.body--dark) .text-warning { color: #8a5300 !important; }
  .q-badge.bg-warning { color: #1f2937 !important; }
}
.notice.bg-amber-50, .notice.bg-red-50 { color: #1f2937; }
.body--dark { color-scheme: dark; }
.nicegui-link { color: #1d5fa8; }
.body--dark .nicegui-link { color: #8ab4f8; }
.pg-bar { background: #e8f0fb; color: #1f2937; }
.body--dark .pg-bar { background: #1e2a3a; color: #e5e7eb; }
.pg-done { background: #effaf2; border: 1px solid #86c99a; color: #14532d; }
.body--dark .pg-done { background: #0f2a18; border-color: #2f6b41; color: #dcfce7; }
.body--dark .pg-chart text { fill: #d1d5db; }
.body--dark .pg-chart path[stroke="#E0E6F1"] { stroke: #353b45; }
.pg-qr { background: #fff; border-radius: 4px; }
.pg-post { width: 100%; padding: 8px 12px; border: 1px solid rgba(0, 0, 0, 0.12); border-radius: 4px; }
.body--dark .pg-post { border-color: rgba(255, 255, 255, 0.28); }
.pg-post-head { display: flex; flex-wrap: wrap; align-items: center; column-gap: 8px; font-size: 0.875rem;
                color: #616161; }
.body--dark .pg-post-head { color: #b0b7c3; }
.pg-post-head .material-icons { font-size: 16px; }
.pg-spacer { flex: 1 1 auto; }
.pg-counter { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.pg-badge { padding: 2px 6px; }
.pg-post-text { white-space: pre-wrap; overflow-wrap: break-word; margin-top: 4px; }
.pg-versions-link { cursor: pointer; text-decoration: underline dotted; }
.pg-media { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px; margin-top: 6px; }
.pg-album { display: flex; flex-wrap: wrap; gap: 4px 12px; }
.pg-thumb { position: relative; display: inline-block; line-height: 0; }
.pg-thumb img { height: 96px; width: auto; max-width: 240px; object-fit: cover; border-radius: 4px;
                filter: blur(1px); }
.pg-play { position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); font-size: 36px;
           color: #fff; text-shadow: 0 0 4px rgba(0, 0, 0, 0.7); }
.pg-duration { position: absolute; right: 4px; bottom: 4px; padding: 1px 4px; border-radius: 3px; line-height: 1.3;
               font-size: 0.75rem; background: rgba(0, 0, 0, 0.72); color: #fff; }
.pg-download { display: inline-flex; align-items: center; gap: 2px; font-size: 0.875rem; cursor: pointer; }
.pg-download .material-icons { font-size: 18px; }
.pg-file-name { font-size: 0.875rem; overflow-wrap: anywhere; }
.pg-post-text mark { background: #ffe58f; color: #1a1a1a; border-radius: 2px; padding: 0 1px; }
.body--dark .pg-post-text mark { background: #7a5d00; color: #ffffff; }
.pg-fold:not(.pg-open) { max-height: 12em; overflow: hidden;
                         -webkit-mask-image: linear-gradient(180deg, #000 65%, transparent);
                         mask-image: linear-gradient(180deg, #000 65%, transparent); }
.pg-whole:not(.pg-open) { display: none; }
.pg-snippet:has(+ .pg-whole.pg-open) { display: none; }
.pg-more { cursor: pointer; color: #1d5fa8; font-size: 0.875rem; }
.body--dark .pg-more { color: #8ab4f8; }
.pg-channel-name { font-weight: 600; }
.pg-del { background: #ffe0e0; color: #8b0000; text-decoration: line-through; }
.pg-ins { background: #dcf5dc; color: #0b5d1e; text-decoration: none; }
.body--dark .pg-del { background: #5c1e1e; color: #ffd7d7; }
.body--dark .pg-ins { background: #1e4620; color: #d4f7d4; }
.pg-hash { font-family: monospace; font-size: 0.75rem; overflow-wrap: anywhere; }
.pg-sticky { position: sticky; top: calc(var(--pg-header, 52px) + 4px); z-index: 5;
             box-shadow: 0 1px 3px rgba(0, 0, 0, 0.25); }
.pg-break { overflow-wrap: break-word; word-break: normal; min-width: 0; }
@media (max-width: 599.98px) {
  .pg-wrap { flex-wrap: wrap !important; }
  .pg-wrap > .pg-full { width: 100% !important; flex: 1 1 100% !important; }
  .pg-wrap > .pg-share { width: auto !important; flex: 1 1 40% !important; min-width: 0; }
  .pg-share .q-field__native > span { white-space: normal; }
  .pg-title { flex: 1 1 12rem !important; min-width: 12rem; }
  .pg-counts { order: 10; width: 100%; flex-direction: row !important; flex-wrap: wrap; column-gap: 0.75rem;
               align-items: baseline !important; padding-left: 2.25rem; }
}
"""


def titled(element: E, title: str) -> E:
    """An icon button's hover text and accessible name, in the page's language (props observe their changes, so a
    new title reaches the browser by itself)."""
    element.props['title'] = title
    return element


def choose_language(language: str) -> None:
    app.storage.user[STORAGE_KEY] = language
    ui.navigate.reload()


def page_style() -> ui.dark_mode:
    """Colours, phone-width rules and the remembered dark mode (None: follow the system) for every page."""
    ui.colors(primary='#2f6fb3', positive='#1a7f37', negative='#c62828')
    client = ui.context.client  # its own copy of the route's page: <html lang>, Quasar's and NiceGUI's own words
    client.page = copy.copy(client.page)
    client.page.language = QUASAR_LANGUAGES.get(current_language(), 'en-US')
    ui.add_css(CSS)
    dark = ui.dark_mode(app.storage.user.get(DARK_KEY))
    return dark


def dark_toggle(dark: ui.dark_mode, *, flat_white: bool = True) -> ui.button:
    titles = {None: lazy('Theme: follows the system'), True: lazy('Theme: dark'), False: lazy('Theme: light')}

    def toggle() -> None:
        value = DARK_NEXT[app.storage.user.get(DARK_KEY)]
        app.storage.user[DARK_KEY] = value
        dark.set_value(value)
        show()

    def show() -> None:
        value = app.storage.user.get(DARK_KEY)
        button.props(f'icon={DARK_ICONS[value]}')
        titled(button, render(titles[value]))
    button = ui.button(on_click=toggle).props('flat round dense' + (' color=white' if flat_white else '')) \
        .mark('dark-toggle')
    show()
    return button


def language_menu(*, flat_white: bool = True) -> ui.button:
    language = current_language()
    with ui.button(language.upper(), icon='translate') \
            .props('flat dense no-caps' + (' color=white' if flat_white else '')).mark('language') as button:
        with ui.menu():
            for code, name in LANGUAGES.items():
                ui.menu_item(name, on_click=lambda c=code: choose_language(c)) \
                    .props('active' if code == language else '').mark(f'language-{code}')
    return button
