"""Drive `geolm ui` in a real headless browser: start the page, ask a question, read the answer, screenshot.

The chat page test uses these functions; run as a script it writes the screenshot docs/serving.md shows:

    python tools/chat_page_browser.py CHECKPOINT "What is a heron?" docs/serving_chat.png
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def browser_paths() -> tuple[str, str] | None:
    """(browser, driver) executables, or None where no browser is installed."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(DRIVER)
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def chat_page(checkpoint: str | Path, *flags: str, timeout: float = 90.0) -> Iterator[str]:
    """A `geolm ui` process serving `checkpoint` on a free loopback port; yields its URL, stops it at the end."""
    import httpx

    port = free_port()
    command = [sys.executable, "-c", "from geolm.cli.main import main; main()", "ui", str(checkpoint)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--device", "cpu", *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"geolm ui exited: {process.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"geolm ui did not answer within {timeout:.0f} s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def headless_browser(width: int = 1100, height: int = 760):
    """A headless Chromium under selenium, closed at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = browser_paths()
    if paths is None:
        raise RuntimeError("no Chromium and chromedriver found (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def ask(driver, url: str, question: str, timeout: float = 60.0) -> str:
    """Type `question` into the page's box, press Enter, and return the answer once it stops growing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout, poll_frequency=0.25)
    box = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "textarea") or False)[0]
    box.send_keys(question, Keys.ENTER)
    wait.until(lambda d: any(b.text.strip() for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="bot"]')))
    seen, stable = None, 0
    deadline = time.monotonic() + timeout
    while stable < 8 and time.monotonic() < deadline:  # two seconds without change: the stream has ended
        text = driver.find_elements(By.CSS_SELECTOR, '[data-testid="bot"]')[-1].text
        stable = stable + 1 if text == seen else 0
        seen = text
        time.sleep(0.25)
    return seen or ""


def main() -> None:
    checkpoint, question, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    with chat_page(checkpoint, *sys.argv[4:]) as url, headless_browser() as driver:
        print(ask(driver, url, question))
        driver.save_screenshot(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
