"""Steps that many dashboard tests share."""
from __future__ import annotations

from nicegui.testing import Screen, User
from selenium.webdriver.common.by import By

from tests.conftest import ADMIN_PASSWORD


async def sign_in(user: User, *, retries: int = 150) -> None:
    """Log in to the dashboard as the admin and wait for the channel list it lands on."""
    await user.open('/login')
    user.find(marker='password').type(ADMIN_PASSWORD)
    user.find(marker='login').click()
    await user.should_see('Channels', retries=retries)


def visible(screen: Screen, css: str):
    """The first displayed element matching `css` (NiceGUI keeps hidden dialogs and tabs in the page)."""
    for element in screen.selenium.find_elements(By.CSS_SELECTOR, css):
        if element.is_displayed():
            return element
    raise AssertionError(f'no visible {css}')
