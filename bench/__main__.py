"""Benchmarks: `python -m bench <name> [args]` runs `bench/<name>.py`'s `main(argv)`."""

import importlib
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: python -m bench <dashboard|dc|ingest|limits|media|search> [options]')
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if not name.isidentifier():
        print(f'unknown benchmark {name!r}')
        return 2
    try:
        module = importlib.import_module(f'bench.{name}')
    except ModuleNotFoundError as exc:
        if exc.name != f'bench.{name}':
            raise
        print(f'unknown benchmark {name!r}')
        return 2
    return module.main(rest) or 0


if __name__ == '__main__':
    sys.exit(main())
