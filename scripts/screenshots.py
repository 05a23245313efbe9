"""Take the README's screenshots from the demo: `.venv/bin/python scripts/screenshots.py` (after `bash scripts/test`
has installed the dev tools and Chromium). Starts `parsegram --demo` on a free port with its data in a temporary
directory, signs in with the password it prints, and saves docs/screenshots/channels.png and channel.png."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'docs' / 'screenshots'
sys.path.insert(0, str(ROOT))

# after the path that makes them importable: the demo is started and watched as its test does
from app.db.embedded import free_port  # noqa: E402
from tests.serving import printed_password, rows_with_posts, start_app, stop_app, wait_healthy  # noqa: E402
from tests.support import visible, wait_for  # noqa: E402

SLOW = 90.0  # seconds: the news channel's first batches at the demo's realistic pace


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars',
                     '--window-size=1280,1100', '--force-device-scale-factor=1', '--lang=en-US'):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        url = f'http://127.0.0.1:{port}'
        process, log = start_app(Path(work), port, 'demo.log', '--demo')
        driver = browser()
        try:
            password = wait_for(lambda: printed_password(log), SLOW, what='the printed password')
            wait_healthy(process, port, log)
            driver.get(f'{url}/login')
            visible(driver, 'input[type=password]', 15).send_keys(password + Keys.ENTER)
            wait_for(lambda: len(rows_with_posts(driver)) >= 3, SLOW, what='every demo channel with posts')
            time.sleep(1)  # let the progress bars settle before the picture
            driver.save_screenshot(str(OUT / 'channels.png'))
            row = driver.find_element(By.CSS_SELECTOR, '[data-channel]')
            driver.get(f'{url}/dashboard/channels/{row.get_attribute("data-channel")}')
            wait_for(lambda: 'posts stored' in driver.find_element(By.TAG_NAME, 'body').text, SLOW,
                     what='the channel page')
            time.sleep(2)  # the chart draws after the page
            driver.save_screenshot(str(OUT / 'channel.png'))
        finally:
            driver.quit()
            stop_app(process)
    print(f'saved {OUT / "channels.png"} and {OUT / "channel.png"}')


if __name__ == '__main__':
    main()
