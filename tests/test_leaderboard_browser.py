"""End to end in a real browser: ``bench leaderboard`` serves the smoke-run database of
`test_leaderboard_app` (trained, scored, failed and unranked runs); headless Debian
Chromium (Playwright, never a downloaded browser) opens it, switches pages, checks what
each draws and saves screenshots.

Run as a script to remake the README images from any results database:

    .venv/bin/python tests/test_leaderboard_browser.py --db results/mskbench.duckdb --out docs/images
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import pytest
from test_leaderboard_app import shared_db  # tests/ is on sys.path under pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the test skips and says why
    expect = sync_playwright = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BENCH = Path(sys.executable).with_name("bench")
START_TIMEOUT_S = 60
WAIT_MS = 30_000
#: Page → (text drawn last, so the page is complete; elements it shows by test id → count).
PAGES = {
    "Overview": ("Runs not ranked", {"stDataFrame": 3}),
    "Fat infiltration strata": ("Every model", {"stVegaLiteChart": 2, "stDataFrame": 2}),
    "Compare two models": ("Holm across the structures", {"stVegaLiteChart": 1}),
    "Bland–Altman": ("Difference = predicted − reference", {"stVegaLiteChart": 4}),
    "Per structure": ("as in the seed's Fig. 3", {"stVegaLiteChart": 5}),
    "Paper tables": ("defines no tables of its own", {}),
    "Case viewer": ("Stored per-case values", {"stImage": 1}),
    "Runs": ("Finished folds", {}),
}
#: README screenshot file → (page, window height in px: the page scrolls inside it).
SCREENSHOTS = {
    "leaderboard_overview.png": ("Overview", 900),
    "leaderboard_g20.png": ("Fat infiltration strata", 1400),
}
SCREENSHOT_WIDTH_PX = 1800


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@contextmanager
def leaderboard(db: Path, log: Path) -> Iterator[str]:
    """``bench leaderboard --db DB --port P`` running until the block ends; yields its URL."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BENCH), "leaderboard", "--db", str(db), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"bench leaderboard exited {server.returncode}: {log.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as reply:
                    if reply.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no server at {url} after {START_TIMEOUT_S} s") from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@contextmanager
def browser_page(width: int = 1500, height: int = 1100) -> Iterator[Page]:
    """A page of headless Debian Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def settle(page: Page, ready: str) -> None:
    """Wait until ``ready`` is drawn and the script has finished running."""
    page.get_by_text(ready).first.wait_for(timeout=WAIT_MS)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")


def show(page: Page, title: str, ready: str) -> None:
    """Click ``title`` in the sidebar's page list and wait for ``ready`` to be drawn."""
    page.get_by_test_id("stSidebar").get_by_text(title, exact=True).click()
    settle(page, ready)


def screenshots(db: Path, task: str, out: Path, log: Path) -> list[Path]:
    """Save `SCREENSHOTS` of the leaderboard of ``db`` showing ``task`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with leaderboard(db, log) as url, browser_page(SCREENSHOT_WIDTH_PX) as page:
        page.goto(f"{url}/?task={task}")
        for name, (title, height) in SCREENSHOTS.items():
            page.set_viewport_size({"width": SCREENSHOT_WIDTH_PX, "height": height})
            show(page, title, PAGES[title][0])
            page.wait_for_timeout(1000)  # charts finish drawing
            page.screenshot(path=out / name)
            saved.append(out / name)
    return saved


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke-run database of `test_leaderboard_app` (built once per test session)."""
    return shared_db(request, tmp_path_factory)


@pytest.mark.browser
@pytest.mark.skipif(sync_playwright is None, reason="needs playwright (pip install -e '.[dev]')")
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium; "
    ".ci/run installs it where apt works)",
)
def test_the_leaderboard_opens_in_chromium_and_every_page_draws(db, tmp_path):
    with leaderboard(db, tmp_path / "server.log") as url, browser_page() as page:
        page.goto(url)
        settle(page, PAGES["Overview"][0])
        body = page.locator("body").inner_text()
        assert "Thigh muscle segmentation in neuromuscular disease" in body
        assert "published rows are the paper's numbers" in body
        for title, (ready, counts) in PAGES.items():
            show(page, title, ready)
            for test_id, n in counts.items():
                expect(page.get_by_test_id(test_id)).to_have_count(n, timeout=WAIT_MS)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            assert f"page={quote_plus(title)}" in page.url or title == "Overview"  # shareable
            page.screenshot(path=tmp_path / f"{title}.png", full_page=True)
    for title in PAGES:
        assert (tmp_path / f"{title}.png").stat().st_size > 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description="Remake the README screenshots.")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--task", default="nmd_thigh")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for path in screenshots(args.db, args.task, args.out, Path(tmp) / "server.log"):
            print(path)


if __name__ == "__main__":
    main()
