"""A moment shown relative to now ("3 minutes ago", "12 s" left), ticking in the browser rather than from the
server. Its words come from the catalog in the page's language; the browser picks the plural form with
Intl.PluralRules (1 минуту, 2 минуты, 5 минут)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from nicegui import ui

from app.i18n import _, current_language, plural_forms


def relative_texts() -> dict[str, Any]:
    return {
        'language': current_language(),
        'just_now': _('just now'),
        'minutes_ago': plural_forms('{n} minute ago', '{n} minutes ago'),
        'hours_ago': plural_forms('{n} hour ago', '{n} hours ago'),
        'seconds_left': _('{s} s'),
        'minutes_left': _('{m} min {s} s'),
        'hours_left': _('{h} h {m} min'),
    }


class RelativeTime(ui.element, component='relative_time.js'):
    """`template` places the time in a sentence ('synced {time}'); `never` is shown while there is no moment."""

    def __init__(self, moment: datetime | None = None, *, mode: Literal['ago', 'countdown', 'clock'] = 'ago',
                 template: str = '{time}', never: str = '', after: str = '') -> None:
        """`clock` shows the moment itself in the reader's time zone and language ('21:40', '6 Dec, 21:40');
        `after` is what a countdown says once it has run out (else it stays at 0 s)."""
        super().__init__()
        self._props.update(mode=mode, template=template, never=never, after=after, at=_millis(moment),
                           texts=relative_texts())

    def show(self, moment: datetime | None, **texts: str) -> None:
        """Point it at another moment (or change `template`, `never`); sends nothing when nothing changed."""
        wanted: dict[str, Any] = {'at': _millis(moment), **texts}
        if any(self._props.get(name) != value for name, value in wanted.items()):
            self._props.update(wanted)
            self.update()


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)
