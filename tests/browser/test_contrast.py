"""Every text the dashboard draws in colour reads at WCAG AA (contrast of at least 4.5:1 against what is behind it)
in the light and the dark theme: the status badges, the bulk bar over a selection, the box with a new API token, the
channel rows and the charts' text. Measured in the browser from the computed colours, background layers blended as
they are drawn."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from nicegui.testing import Screen
from pymongo import MongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from app.db.models import Channel, Job, JobKind, JobStatus, Metric, MetricKind, Post, SyncSettings, SyncState, utcnow
from app.db.posts_repo import PostsRepo
from tests.conftest import ADMIN_PASSWORD
from tests.support import visible

AA = 4.5
CHANNEL_IDS = (8_600_001, 8_600_002, 8_600_003)

# The contrast of each shown text under `root`: its colour (an SVG text's fill) against the background layers
# behind it, translucent ones blended over the first opaque one (the page itself when there is none).
CONTRASTS = """
const root = arguments[0];
const rgba = c => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
  const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const over = (top, below) => top.slice(0, 3).map((v, i) => v * top[3] + below[i] * (1 - top[3]));
const lum = rgb => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]); };
const page = document.body.classList.contains('body--dark') ? [18, 18, 18] : [255, 255, 255];
function background(element) {
  const layers = [];
  for (let e = element; e && e.nodeType === 1; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let rgb = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop().slice(0, 3) : page;
  while (layers.length) rgb = over(layers.pop(), rgb);
  return rgb;
}
const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const texts = [...root.querySelectorAll('*')].concat([root]).filter(e => shown(e) && (
  e.tagName === 'INPUT' ? e.value : [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())));
return texts.map(e => {
  const style = getComputedStyle(e);
  const svg = e instanceof SVGElement;
  const colour = rgba(svg ? style.fill : style.color) || [0, 0, 0, 1];
  const behind = background(svg ? e.closest('.q-card') || e : e);
  const fg = over(colour, behind);
  const [a, b] = [lum(fg), lum(behind)].sort((x, y) => y - x);
  return {text: (e.value || e.textContent).trim().slice(0, 40), ratio: (a + 0.05) / (b + 0.05)};
});
"""


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


def seed(app_env: dict[str, str]) -> None:
    """An idle channel, one whose schedule is off (paused) and one whose job waits: three colours of badge."""
    client: MongoClient = MongoClient(app_env['MONGO_URI'])
    try:
        db = client[app_env['MONGO_DB']]
        job = Job(id=uuid.uuid4().hex, kind=JobKind.SYNC, channel_id=CHANNEL_IDS[2], status=JobStatus.WAITING,
                  wait_until=utcnow() + timedelta(hours=1), wait_reason='flood_wait')
        db.jobs.insert_one(job.to_doc())
        db.channels.insert_many([
            Channel(id=CHANNEL_IDS[0], title='Contrast idle', username='contrast_idle', participants_count=10,
                    state=SyncState(backfilled=True)).to_doc(),
            Channel(id=CHANNEL_IDS[1], title='Contrast paused', sync=SyncSettings(enabled=False),
                    state=SyncState(backfilled=True)).to_doc(),
            Channel(id=CHANNEL_IDS[2], title='Contrast waiting', state=SyncState(job_id=job.id)).to_doc()])
        now = utcnow()  # a week of posts and of subscriber counts: the idle channel's charts have lines to draw
        db.posts.insert_many(PostsRepo.prepare(
            Post(channel_id=CHANNEL_IDS[0], message_id=n + 1, date=now - timedelta(days=7 - n), text=f'post {n}',
                 views=100 * (n + 1)) for n in range(7)))
        db.metrics.insert_many([{k: v for k, v in Metric(
            kind=MetricKind.CHANNEL, channel_id=CHANNEL_IDS[0], at=now - timedelta(days=7 - n),
            values={'subscribers': 1000 + n}).to_doc().items() if k != '_id'} for n in range(7)])
    finally:
        client.close()


def too_faint(screen: Screen, css: str) -> list[dict]:
    root = visible(screen, css)
    found = screen.selenium.execute_script(CONTRASTS, root)
    assert found, f'no text measured under {css}'
    return [item for item in found if item['ratio'] < AA]


@pytest.mark.parametrize('theme', ['light', 'dark'])
def test_coloured_texts_read_at_aa_contrast_in_both_themes(screen: Screen, app_env, theme: str):
    seed(app_env)
    screen.open('/login')
    visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    screen.should_contain('Contrast waiting')
    if theme == 'dark':
        toggle = "//button[@title='Theme: follows the system']"
        [e for e in screen.selenium.find_elements(By.XPATH, toggle) if e.is_displayed()][0].click()
        WebDriverWait(screen.selenium, 5).until(
            lambda driver: 'body--dark' in driver.find_element(By.TAG_NAME, 'body').get_attribute('class'))

    faint: dict[str, list[dict]] = {}
    faint['badges'] = [item for channel_id in CHANNEL_IDS
                       for item in too_faint(screen, f'[data-channel="{channel_id}"] .q-badge')]
    for channel_id in CHANNEL_IDS[:2]:
        visible(screen, f'[data-channel="{channel_id}"] .q-checkbox').click()
    screen.should_contain('2 selected')
    faint['bulk bar'] = too_faint(screen, '.pg-bar')
    faint['rows'] = [item for channel_id in CHANNEL_IDS for item in too_faint(screen, f'[data-channel="{channel_id}"]')]

    screen.open('/dashboard/settings')
    visible(screen, 'input[aria-label="Name of the new token"]').send_keys('contrast' + Keys.ENTER)
    screen.should_contain('copy it now')
    faint['new token box'] = too_faint(screen, '.pg-done')

    screen.open(f'/dashboard/channels/{CHANNEL_IDS[0]}')
    screen.should_contain('Posts per day')
    WebDriverWait(screen.selenium, 10).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, '.pg-chart svg text'))
    faint['charts'] = [item for chart in screen.selenium.find_elements(By.CSS_SELECTOR, '.pg-chart')
                       for item in screen.selenium.execute_script(CONTRASTS, chart)
                       if item['ratio'] < AA]
    assert not {place: items for place, items in faint.items() if items}
