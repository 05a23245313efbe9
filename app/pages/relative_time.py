"""A moment shown relative to now ("3 min ago", "12 s" left), ticking in the browser rather than from the server."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from nicegui import ui


class RelativeTime(ui.element, component='relative_time.js'):
    def __init__(self, moment: datetime | None = None, *, mode: Literal['ago', 'countdown'] = 'ago',
                 prefix: str = '', suffix: str = '', never: str = 'never') -> None:
        super().__init__()
        self._props.update(mode=mode, prefix=prefix, suffix=suffix, never=never, at=_millis(moment))

    def show(self, moment: datetime | None, **texts: str) -> None:
        """Point it at another moment (or change `prefix`, `suffix`, `never`); sends nothing when nothing changed."""
        wanted: dict[str, Any] = {'at': _millis(moment), **texts}
        if any(self._props.get(name) != value for name, value in wanted.items()):
            self._props.update(wanted)
            self.update()


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)
