"""Bad settings stop the app with one line naming the variable (no traceback); good ones are read."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings, resolve_secret_key

ROOT = Path(__file__).resolve().parents[1]


def run_app(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(('TELEGRAM_', 'MONGO_', 'NICEGUI_')) and k not in
            {'PORT', 'HOST', 'DATA_DIR', 'SECRET_KEY', 'ADMIN_PASSWORD', 'API_TOKEN', 'LOG_LEVEL',
             'PYTEST_CURRENT_TEST'}}
    base.update({'DATA_DIR': str(tmp_path / 'data'), 'PYTHONPATH': str(ROOT)}, **env)
    return subprocess.run([sys.executable, '-m', 'app'], cwd=tmp_path, env=base, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(('env', 'variable', 'hint'), [
    ({'PORT': 'abc'}, 'PORT', 'whole number'),
    ({'PORT': '70000'}, 'PORT', 'between 1 and 65535'),
    ({'TELEGRAM_API_ID': 'my-app'}, 'TELEGRAM_API_ID', 'whole number'),
    ({'MONGO_URI': 'localhost:27017'}, 'MONGO_URI', 'mongodb://'),
    ({'MONGO_URI': 'mongodb://user:pa:ss@host:notaport/db'}, 'MONGO_URI', 'not a valid MongoDB URI'),
    ({'SECRET_KEY': 'changeme'}, 'SECRET_KEY', 'placeholder'),
    ({'ADMIN_PASSWORD': 'changeme'}, 'ADMIN_PASSWORD', 'placeholder'),
    ({'API_TOKEN': 'short'}, 'API_TOKEN', 'too short'),
    ({'LOG_LEVEL': 'LOUD'}, 'LOG_LEVEL', 'one of'),
])
def test_bad_setting_stops_with_one_clear_line(tmp_path: Path, env: dict[str, str], variable: str,
                                               hint: str) -> None:
    result = run_app(tmp_path, **env)
    assert result.returncode == 2
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f'Parsegram cannot start: {variable} ')
    assert hint in lines[0]
    assert 'Traceback' not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason='root can write anywhere')
def test_unwritable_data_dir_is_named(tmp_path: Path) -> None:
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = run_app(tmp_path, DATA_DIR=str(locked / 'data'))
    assert result.returncode == 2
    assert 'DATA_DIR' in result.stderr and 'not a writable directory' in result.stderr


def test_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / 'a-file').write_text('not a folder')
    result = run_app(tmp_path, DATA_DIR=str(tmp_path / 'a-file'))
    assert result.returncode == 2
    assert result.stderr.strip().startswith('Parsegram cannot start: DATA_DIR ')
    assert 'not a writable directory' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_secret_values_never_appear_in_the_error(tmp_path: Path) -> None:
    result = run_app(tmp_path, PORT='x', SECRET_KEY='a-perfectly-fine-secret-value', API_TOKEN='short')
    assert result.returncode == 2
    assert 'API_TOKEN' in result.stderr and 'PORT' in result.stderr
    assert 'a-perfectly-fine-secret-value' not in result.stderr and "short'" not in result.stderr


def test_defaults_and_telegram_configured(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert (settings.host, settings.port, settings.mongo_db) == ('127.0.0.1', 4000, 'parsegram')
    assert settings.mongo_uri is None and not settings.telegram_configured
    configured = Settings(_env_file=None, data_dir=tmp_path, telegram_api_id='12345', telegram_api_hash='abcdef0123')
    assert configured.telegram_api_id == 12345 and configured.telegram_configured


def test_empty_values_count_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('MONGO_URI', '')
    monkeypatch.setenv('TELEGRAM_API_ID', '')
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.mongo_uri is None and settings.telegram_api_id is None


def test_generated_secret_key_is_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, secret_key=None)
    first = resolve_secret_key(settings)
    assert len(first) >= 40
    path = tmp_path / 'secret_key'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret_key(Settings(_env_file=None, data_dir=tmp_path)) == first
    chosen = Settings(_env_file=None, data_dir=tmp_path, secret_key='x' * 32)
    assert resolve_secret_key(chosen) == 'x' * 32
