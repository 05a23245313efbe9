"""Processes a test run left behind, found by a marker in their environment.

`scripts/test` starts pytest with PARSEGRAM_TEST_RUN=<random id>; every process the suite starts inherits it,
so after the run `python -m tests.leftovers <id>` lists (and ends) any of them that are still alive.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from app.child_process import end_processes

MARKER = 'PARSEGRAM_TEST_RUN'


def marked_processes(run_id: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment carries MARKER=run_id (not this one)."""
    wanted = f'{MARKER}={run_id}'.encode()
    found: dict[int, str] = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted not in (entry / 'environ').read_bytes().split(b'\0'):
                continue
            stat = (entry / 'stat').read_text()
            if stat[stat.rindex(')') + 2] == 'Z':  # a zombie has ended; only its parent has not reaped it
                continue
            command = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace').strip()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = command
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print('usage: python -m tests.leftovers RUN_ID', file=sys.stderr)
        return 2
    left = marked_processes(argv[0])
    if not left:
        return 0
    print(f'The test run left {len(left)} process(es) behind; ending them:', file=sys.stderr)
    for pid, command in sorted(left.items()):
        print(f'  {pid}: {command[:200]}', file=sys.stderr)
    end_processes(left, grace=5.0)
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
