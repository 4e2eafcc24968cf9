"""The chat in a real browser: Debian's Chromium driven by Playwright against a server on loopback."""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def test_ask_see_sources_upload_and_ask_again(seeded, browser_page, tmp_path):
    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    page = browser_page
    with running_server(create_app(seeded, ui=mount)) as url:
        page.goto(url + "/", wait_until="domcontentloaded")
        page.locator("#question textarea").fill("Who represented the US?")
        page.locator("#ask").click()
        page.wait_for_selector("#sources mark")
        page.wait_for_function(
            "document.querySelector('#chat').innerText.includes('deputy secretary of state')"
        )
        assert "deputy secretary of state" in page.locator("#sources mark").first.inner_text()
        # README's picture: refreshed on request, so a test run leaves the work tree alone.
        shot = ROOT / "docs" / "screenshot.png" if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "shot.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000

        # A follow-up reads the chat as the browser sends it back.
        page.locator("#question textarea").fill("And Italy?")
        page.locator("#ask").click()
        page.wait_for_function("document.querySelector('#chat').innerText.includes('Who represented Italy?')")
        # The first answer's [1] still leads to its own card, kept under "Earlier answers".
        assert page.locator("#chat a[href='#source-1-1']").count() == 1
        assert page.locator("#sources #source-1-1").count() == 1

        # Upload a small article in the Articles tab, then ask about it.
        story = tmp_path / "harbour-news.txt"
        story.write_text("The harbour of Brest reopened on Tuesday. The new harbour master is Yann Le Goff.")
        page.get_by_role("tab", name="Articles").click()
        page.locator("#upload input[type=file]").set_input_files(str(story))
        page.locator("#index-file").click()
        page.wait_for_function("document.querySelector('#index-status').innerText.includes('1 added')")
        page.get_by_role("tab", name="Chat").click()
        page.locator("#new-chat").click()
        # "New chat" also empties the question box: wait for it, or it may empty what we type next.
        page.wait_for_function("!document.querySelector('#chat').innerText.includes('deputy secretary')")
        page.locator("#question textarea").fill("Who is the new harbour master?")
        page.locator("#ask").click()
        page.wait_for_function("document.querySelector('#chat').innerText.includes('Yann Le Goff')")
        assert "harbour-news" in page.locator("#sources").inner_text()
    assert [a.id for a in seeded.articles() if a.id == "harbour-news"]


def test_the_url_box_and_reindex_never_read_server_files(seeded, browser_page):
    """The Articles tab in a real browser: server paths typed as URLs, and an upload whose source
    label is a server path, are refused with a message; nothing is read or indexed."""
    from fastapi.testclient import TestClient
    from playwright.sync_api import expect

    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    app = create_app(seeded, ui=mount)
    with TestClient(app) as client:  # an API client labels its upload with a server path
        r = client.post("/v1/articles", files={"file": ("notes.txt", b"The ferry leaves at noon.")},
                        data={"source": "/etc/os-release"})
        assert r.status_code == 200, r.text
    before = [(a.id, a.content_hash) for a in seeded.articles()]
    page = browser_page
    with running_server(app) as url:
        page.goto(url + "/", wait_until="domcontentloaded")
        page.get_by_role("tab", name="Articles").click()
        for typed in ["/etc/os-release", "~/.bashrc", ".", "seeds", "file:///etc/passwd", "FILE:/etc/passwd",
                      " /etc/passwd"]:
            page.locator("#url textarea, #url input").first.fill(typed)
            page.locator("#fetch-url").click()
            expect(page.locator("#index-status")).to_contain_text(f"'{typed.strip()}' is not a web address")
        page.locator("#chosen input").click()
        page.get_by_role("option", name="notes").click()
        page.locator("#reindex").click()
        expect(page.locator("#index-status")).to_contain_text("uploaded or pasted")
    assert [(a.id, a.content_hash) for a in seeded.articles()] == before
    assert "ID=" not in "".join(seeded.article(a).text for a, _ in before)  # /etc/os-release never indexed
