"""Take the README's screenshots from the demo: `.venv/bin/python scripts/screenshots.py` (after `bash scripts/test`
has installed the dev tools and Chromium). Starts `parsegram --demo` on a free port with its data in a temporary
directory, signs in with the password it prints, and saves docs/screenshots/channels.png and channel.png."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'docs' / 'screenshots'
sys.path.insert(0, str(ROOT))

from app.db.embedded import free_port  # noqa: E402 - after the path that makes it importable


def wait(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f'gave up waiting for {what}')
        time.sleep(0.3)
    return value


def healthy(url: str) -> bool:
    try:
        return httpx.get(f'{url}/api/health', timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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
        env = {**os.environ, 'PORT': str(port), 'DATA_DIR': str(Path(work) / 'data'), 'PYTHONPATH': str(ROOT)}
        log = Path(work) / 'demo.log'
        with open(log, 'wb') as out:
            process = subprocess.Popen([sys.executable, '-m', 'app', '--demo'], cwd=work, env=env, stdout=out,
                                       stderr=subprocess.STDOUT)
        driver = browser()
        try:
            password = wait('the printed password', lambda: re.search(r'Password:\s+(\S+)', log.read_text()))[1]
            wait('health to say ok', lambda: healthy(url))
            driver.get(f'{url}/login')
            wait('the password field', lambda: driver.find_elements(By.CSS_SELECTOR, 'input[type=password]'))[0] \
                .send_keys(password + Keys.ENTER)
            wait('every demo channel with posts', lambda: len(re.findall(
                r'[1-9][\d,]* posts? stored', driver.find_element(By.TAG_NAME, 'body').text)) >= 3)
            time.sleep(1)  # let the progress bars settle before the picture
            driver.save_screenshot(str(OUT / 'channels.png'))
            row = driver.find_element(By.CSS_SELECTOR, '[data-channel]')
            driver.get(f'{url}/dashboard/channels/{row.get_attribute("data-channel")}')
            wait('the channel page', lambda: 'posts stored' in driver.find_element(By.TAG_NAME, 'body').text)
            time.sleep(2)  # the chart draws after the page
            driver.save_screenshot(str(OUT / 'channel.png'))
        finally:
            driver.quit()
            process.send_signal(signal.SIGINT)
            process.wait(30)
    print(f'saved {OUT / "channels.png"} and {OUT / "channel.png"}')


if __name__ == '__main__':
    main()
