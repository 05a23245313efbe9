"""Moving through a long channel list as a person does, in real Chromium at phone width: each page and filter is a
step Back undoes, a new page starts at its top, a selection is only what is on screen, the bulk bar stays in view
and a delete names what it deletes."""
from __future__ import annotations

import pytest
from nicegui.testing import Screen
from pymongo import MongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.db.models import Channel
from tests.conftest import ADMIN_PASSWORD
from tests.support import visible, wait_for

CHANNELS = 120  # three pages of 50


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


def seed(app_env: dict[str, str]) -> None:
    docs = [Channel(id=8_700_000 + n, title=f'Nav {n:03d}', username=f'nav_{n:03d}').to_doc() for n in range(CHANNELS)]
    client: MongoClient = MongoClient(app_env['MONGO_URI'])
    try:
        client[app_env['MONGO_DB']].channels.insert_many(docs)
    finally:
        client.close()


def first_title(screen: Screen) -> str | None:
    """Read in one step in the page: rows replaced meanwhile leave no stale handle behind."""
    return screen.selenium.execute_script("return document.querySelector('[data-channel] a')?.textContent")


def test_pages_and_filters_are_history_steps_and_the_bulk_bar_stays_in_view(screen: Screen, app_env):
    seed(app_env)
    driver = screen.selenium
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride',
                           {'width': 390, 'height': 844, 'deviceScaleFactor': 2, 'mobile': True})
    try:
        screen.open('/login')
        visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
        screen.should_contain('1–50 of 120')
        assert first_title(screen) == 'Nav 000'

        # page 2, scrolled from the pager at the bottom to the top of the new page; Back shows page 1 again
        driver.execute_script('window.scrollTo(0, document.body.scrollHeight)')
        visible(screen, '.q-pagination button[aria-label="2"]').click()
        screen.should_contain('51–100 of 120')
        wait_for(lambda: driver.execute_script('return window.scrollY') == 0, what='the new page shown from its top')
        assert 'page=2' in driver.current_url
        driver.back()
        screen.should_contain('1–50 of 120')
        wait_for(lambda: first_title(screen) == 'Nav 000', what='page 1 after Back')
        assert 'page=2' not in driver.current_url

        # a selection, then a filter that hides part of it: the selection is only what is still shown
        boxes = driver.find_elements(By.CSS_SELECTOR, '[data-channel] .q-checkbox')
        for box in boxes[:3]:
            box.click()
        screen.should_contain('3 selected')
        box = visible(screen, '.channel-filter input')
        box.send_keys('nav 00')  # Nav 000 … Nav 009
        wait_for(lambda: driver.execute_script("return document.querySelectorAll('[data-channel]').length") == 10,
                 what='ten rows')
        screen.should_contain('3 selected')  # all three are still in sight
        box.send_keys(Keys.BACKSPACE + '1')  # "nav 01": Nav 010 … Nav 019, none of them selected
        wait_for(lambda: first_title(screen) == 'Nav 010', what='the narrower filter')
        wait_for(lambda: not driver.execute_script(
            "return [...document.querySelectorAll('.pg-bar')].some(e => e.getClientRects().length)"),
            what='the bulk bar gone with its hidden selection')
        driver.back()  # the typed filter was one step: Back is the unfiltered list
        wait_for(lambda: 'q=' not in driver.current_url, what='the URL without the filter')
        screen.should_contain('1–50 of 120')

        # select on a long page, scroll to its end: the bulk bar is still on screen, under the header
        for box in driver.find_elements(By.CSS_SELECTOR, '[data-channel] .q-checkbox')[:2]:
            box.click()
        screen.should_contain('2 selected')
        driver.execute_script('window.scrollTo(0, document.body.scrollHeight)')
        bar = visible(screen, '.pg-bar')
        top, bottom, header = driver.execute_script(
            'const r = arguments[0].getBoundingClientRect();'
            'return [r.top, r.bottom, document.querySelector(".q-header").getBoundingClientRect().bottom]', bar)
        assert header <= top and bottom <= 844, f'the bulk bar is off screen: {top}–{bottom}, header ends {header}'

        # a delete names each channel it deletes
        visible(screen, '.pg-bar button.text-negative').click()
        screen.should_contain('Delete 2 channels and their 0 stored posts?')
        screen.should_contain('• Nav 000')
        screen.should_contain('• Nav 001')
    finally:
        driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})
