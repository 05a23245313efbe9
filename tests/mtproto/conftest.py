import pytest

from tests.mtproto.test_sync_service import Stack


@pytest.fixture
async def stack(telegram_dc, repos, tmp_path):
    """Accounts, channels and sync services on the test DC, with one account logged in."""
    made = Stack(telegram_dc, repos, tmp_path)
    await made.start()
    yield made
    await made.stop()
    telegram_dc.clear_faults()
