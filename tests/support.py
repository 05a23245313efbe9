"""Steps that many dashboard tests share."""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nicegui.testing import Screen, User
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.clock import Clock, SystemClock
from app.mtproto.door import DoorClient, TelegramDoor
from app.mtproto.limits import DEFAULT_BUDGETS, RequestLimiter
from tests.conftest import ADMIN_PASSWORD


def unpaced(clock: Clock | None = None) -> RequestLimiter:
    """Request pacing for tests that do not study it: every rate a thousand times the safe one. With `clock` the
    daily budgets are told by it (the pacing itself stays on real time: it is too fast to matter)."""
    return RequestLimiter({kind: replace(budget, per_second=budget.per_second * 1000, burst=max(budget.burst, 50))
                           for kind, budget in DEFAULT_BUDGETS.items()}, wall=(clock or SystemClock()).now)


def door_client(telegram_dc: Any, door: TelegramDoor, key: str = 'login', session: str = '', **kw: Any) -> DoorClient:
    """A client of the test DC whose requests go through `door` as `key`'s, as every client of the app does."""
    return telegram_dc.make_client(session, client_class=DoorClient, door=door, door_key=key,
                                   flood_sleep_threshold=0, **kw)


async def sign_in(user: User, *, retries: int = 150) -> None:
    """Log in to the dashboard as the admin and wait for the channel list it lands on."""
    await user.open('/login')
    user.find(marker='password').type(ADMIN_PASSWORD)
    user.find(marker='login').click()
    await user.should_see('Channels', retries=retries)


def visible(browser: Screen | WebDriver, css: str, timeout: float = 10.0):
    """The first displayed element matching `css` (NiceGUI keeps hidden dialogs and tabs in the page), in a
    `screen` or a bare driver (a page served by another process).

    Waits for it: a dialog that is still opening has its inputs in the page but not yet displayed."""
    driver = browser.selenium if isinstance(browser, Screen) else browser
    return wait_for(lambda: next((element for element in driver.find_elements(By.CSS_SELECTOR, css)
                                  if element.is_displayed()), None), timeout, what=f'a visible {css}')


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = '') -> Any:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f'not seen within {timeout} s: {what}')


def shows(screen: Screen, text: str, timeout: float = 20.0) -> None:
    """Wait for `text` in what the page shows, for steps that can take longer than the browser's implicit wait
    (a count over thousands of posts on a busy machine)."""
    wait_for(lambda: text in screen.selenium.find_element(By.TAG_NAME, 'body').text, timeout, what=text)


async def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `check` (plain or async) until it returns something truthy, and return that; fail after `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError('condition not reached in time')
        await asyncio.sleep(interval)


def within_bucket(times: list[float], rate: float, burst: int) -> bool:
    """No stretch of these call times beats a token bucket of `rate` calls a second after a `burst`."""
    return all(j - i + 1 <= burst + rate * (times[j] - first) + 1e-9
               for i, first in enumerate(times) for j in range(i + 1, len(times)))


async def store_posts(repos: Any, posts: list[Any]) -> list[Any]:
    """Write posts as Telegram would have them, through the post writer; returns its results by channel."""
    from app.db.posts_repo import PostsRepo
    results = []
    for channel_id in sorted({post.channel_id for post in posts}):
        mine = [post for post in posts if post.channel_id == channel_id]
        for start in range(0, len(mine), 500):
            results.append(await repos.writer.store(channel_id, PostsRepo.prepare(mine[start:start + 500])))
    return results


async def search_current(root: Any, timeout: float = 30.0) -> None:
    """Until the app's search index holds every write made so far."""
    index = root.search_index
    deadline = time.monotonic() + timeout
    while not (index.status.state == 'ready' and index.status.position >= await root.repos.feed.head()):
        if time.monotonic() > deadline:
            raise AssertionError(f'the search index did not catch up: {index.status}')
        await asyncio.sleep(0.01)
