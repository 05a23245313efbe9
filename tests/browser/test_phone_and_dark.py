"""At phone width (390 x 844) in English and Russian: no page scrolls sideways and every main action is on screen
and takes a click; the dark mode chosen in the header survives a reload."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from nicegui.testing import Screen
from pymongo import MongoClient
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from app.db.models import Channel, Job, JobKind, JobStatus, SyncState, utcnow
from tests.conftest import ADMIN_PASSWORD
from tests.support import visible

CHANNEL_ID = 8_500_000
WORDS = {
    'en': {'add': 'Add', 'actions': 'Actions', 'sync': 'Sync now', 'settings': 'Settings', 'search': 'Search words',
           'add_account': 'Add account', 'create_token': 'Create token', 'channels': 'Add channels'},
    'ru': {'add': 'Добавить', 'actions': 'Действия', 'sync': 'Синхронизировать', 'settings': 'Настройки',
           'search': 'Слова для поиска', 'add_account': 'Добавить аккаунт', 'create_token': 'Создать токен',
           'channels': 'Добавить каналы'},
}


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


@pytest.fixture
def phone(screen: Screen) -> Iterator[Screen]:
    """A phone's viewport for this test only (the browser is shared by the whole run)."""
    driver = screen.selenium
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride',
                           {'width': 390, 'height': 844, 'deviceScaleFactor': 2, 'mobile': True})
    try:
        yield screen
    finally:
        driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})
        driver.execute_cdp_cmd('Network.setUserAgentOverride', {'userAgent': _user_agent(driver)})


def _user_agent(driver) -> str:
    return driver.execute_script('return navigator.userAgent')


def speak(screen: Screen, language: str) -> None:
    """The browser's languages, as Accept-Language sends them."""
    header = 'ru-RU,ru;q=0.9,en;q=0.5' if language == 'ru' else 'en-US,en;q=0.9'
    screen.selenium.execute_cdp_cmd('Network.enable', {})
    screen.selenium.execute_cdp_cmd('Network.setUserAgentOverride',
                                    {'userAgent': _user_agent(screen.selenium), 'acceptLanguage': header})


def seed_channel(app_env: dict[str, str]) -> None:
    """A channel with a long title whose job waits: a badge, buttons and a progress line all want room."""
    client: MongoClient = MongoClient(app_env['MONGO_URI'])
    try:
        db = client[app_env['MONGO_DB']]
        job = Job(id=uuid.uuid4().hex, kind=JobKind.BACKFILL, channel_id=CHANNEL_ID, status=JobStatus.WAITING,
                  wait_until=utcnow() + timedelta(hours=1), wait_reason='flood_wait')
        db.jobs.insert_one(job.to_doc())
        db.channels.insert_one(Channel(
            id=CHANNEL_ID, title='A channel with a rather long title that has to wrap on a phone',
            username='phone_width_channel', participants_count=123_456, state=SyncState(job_id=job.id)).to_doc())
    finally:
        client.close()


def title_readable(screen: Screen) -> None:
    """A row's title keeps a readable width and wraps between words, never inside one."""
    width, wrap = screen.selenium.execute_script(
        'const t = document.querySelector("[data-channel] a"); const s = getComputedStyle(t);'
        'return [t.getBoundingClientRect().width, s.overflowWrap + " " + s.wordBreak]')
    assert width >= 180 and 'anywhere' not in wrap and 'break-all' not in wrap, (width, wrap)


def fits(screen: Screen) -> None:
    width = screen.selenium.execute_script('return [document.documentElement.scrollWidth, window.innerWidth]')
    assert width[0] <= width[1], f'the page scrolls sideways: {width[0]} px wide in a {width[1]} px window'


# Text the browser cut short: an ellipsis (text-overflow) on an element whose text is wider than its box.
CUT = """
return [...document.querySelectorAll('body *')].filter(e => e.getClientRects().length
  && getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1
  && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())).map(e => e.textContent.trim());
"""


def nothing_cut(screen: Screen) -> None:
    cut = screen.selenium.execute_script(CUT)
    assert not cut, f'text cut short: {cut}'


def reachable(screen: Screen, xpath: str):
    """The element is shown, lies inside the window's width and is what a tap on its middle hits."""
    def shown(driver) -> list:
        return [e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()]
    try:
        element = WebDriverWait(screen.selenium, 5).until(shown)[0]  # a menu takes a moment to open
    except TimeoutException:
        pytest.fail(f'nothing shown for {xpath}')
    hit = screen.selenium.execute_script("""
        const el = arguments[0];
        el.scrollIntoView({block: 'center'});
        const box = el.getBoundingClientRect();
        const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
        return {left: box.left, right: box.right, width: window.innerWidth, hit: el.contains(top) || top.contains(el)};
    """, element)
    assert hit['left'] >= 0 and hit['right'] <= hit['width'], f'{xpath} is off screen: {hit}'
    assert hit['hit'], f'{xpath} is covered by something else'
    return element


def button(text: str) -> str:
    return f"//button[.//span[normalize-space()='{text}']]"


@pytest.mark.parametrize('language', ['en', 'ru'])
def test_every_page_fits_a_phone_and_its_actions_take_a_tap(phone: Screen, app_env, language: str):
    words = WORDS[language]
    speak(phone, language)
    seed_channel(app_env)
    phone.open('/login')
    visible(phone, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    phone.should_contain(words['channels'])
    visible(phone, '[data-channel]')
    title_readable(phone)

    # channels: the paste box and its button, the filter, a row's actions in its menu, the header's menu
    fits(phone)
    nothing_cut(phone)
    reachable(phone, '//textarea')
    reachable(phone, button(words['add']))
    reachable(phone, "//input[contains(@class, 'q-field__native') and @type='search' or @type='text']")
    reachable(phone, f"//button[@title='{words['actions']}']").click()
    reachable(phone, f"//div[contains(@class, 'q-menu')]//div[normalize-space()='{words['sync']}']")
    phone.selenium.find_element(By.TAG_NAME, 'body').send_keys(Keys.ESCAPE)
    WebDriverWait(phone.selenium, 5, ignored_exceptions=[StaleElementReferenceException]).until(  # a closing menu
        lambda driver: not [e for e in driver.find_elements(By.CSS_SELECTOR, '.q-menu') if e.is_displayed()])
    reachable(phone, "//button[.//i[normalize-space()='menu']]").click()
    reachable(phone, f"//div[contains(@class, 'q-menu')]//div[normalize-space()='{words['settings']}']").click()

    # settings: name a token and make it
    phone.should_contain(words['create_token'])
    fits(phone)
    nothing_cut(phone)
    reachable(phone, button(words['create_token']))

    # accounts: add one
    phone.open('/dashboard/accounts')
    phone.should_contain(words['add_account'])
    fits(phone)
    nothing_cut(phone)
    reachable(phone, button(words['add_account']))

    # a channel's page: its search words, exports and schedule
    phone.open(f'/dashboard/channels/{CHANNEL_ID}')
    phone.should_contain(words['search'])
    fits(phone)
    nothing_cut(phone)
    reachable(phone, f"//label[.//div[normalize-space()='{words['search']}']]//input")
    reachable(phone, button('CSV'))
    reachable(phone, button('JSONL'))


def test_the_dark_mode_chosen_in_the_header_survives_a_reload(screen: Screen):
    screen.open('/login')
    visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    screen.should_contain('Add channels')

    def dark() -> bool:
        return 'body--dark' in screen.selenium.find_element(By.TAG_NAME, 'body').get_attribute('class')

    assert not dark()  # the system setting of a headless browser is light
    toggle = "//button[@title='Theme: follows the system']"
    [e for e in screen.selenium.find_elements(By.XPATH, toggle) if e.is_displayed()][0].click()
    WebDriverWait(screen.selenium, 5).until(lambda _: dark())
    screen.selenium.refresh()
    screen.should_contain('Add channels')
    assert dark(), 'the dark mode was forgotten on reload'
    screen.open('/dashboard/settings')
    screen.should_contain('API tokens')
    assert dark()
    toggle = "//button[@title='Theme: dark']"
    [e for e in screen.selenium.find_elements(By.XPATH, toggle) if e.is_displayed()][0].click()
    WebDriverWait(screen.selenium, 5).until(lambda _: not dark())
    screen.selenium.refresh()
    screen.should_contain('API tokens')
    assert not dark()
