"""Screenshots of the console for the README, from the demo's data, in headless Chromium.

    python scripts/screenshots.py [--out docs/images]

Runs the demo until 8 October 2010 with its reviewer stopping on 1 October (so the invitations
to the First Meeting of States Parties wait for a person), opens the console on that database
with the clock at the demo's end, signs in, and saves ``dashboard.png`` and ``review.png``.
Needs Playwright for Python and Debian's ``chromium`` (no browser download).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from outreach.demo import run_demo
from outreach.web.demo import DEMO_ACCOUNT, demo_console
from outreach.web.server import serve_in_thread

#: The browser flags (no network, no first-run work); the browser tests launch with these too.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(page: Page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def first_pending_english_letter(page: Page, base: str) -> str:
    page.goto(f"{base}/review?language=en")
    link = page.locator("table a[href^='/messages/']").first
    href = link.get_attribute("href")
    if not href or not re.fullmatch(r"/messages/\d+", href):
        raise SystemExit("no letter waits for review in the demo data")
    return href


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="outreach-shots-") as tmp:
        result = run_demo(
            Path(tmp), quiet=True, until=date(2010, 10, 8), review_until=date(2010, 10, 1)
        )
        assert result.database is not None and result.ended_at is not None
        lines: list[str] = []
        app, _ = demo_console(
            result.database, ended_at=result.ended_at, port=None, echo=lines.append
        )
        password = lines[-1].split(f"{DEMO_ACCOUNT} / ", 1)[1].split()[0]
        with serve_in_thread(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            sign_in(page, base, DEMO_ACCOUNT, password)
            page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
            page.goto(base + first_pending_english_letter(page, base))
            page.frame_locator("iframe.letter-html").locator("body").wait_for()
            page.set_viewport_size({"width": 1200, "height": 1250})
            page.screenshot(path=str(args.out / "review.png"))
            browser.close()
    print(f"wrote {args.out / 'dashboard.png'} and {args.out / 'review.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
