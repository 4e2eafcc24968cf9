"""The chat in a real browser: Debian's Chromium driven by Playwright against a server on loopback.

Each test opens one server and one browser, then walks the same steps at a desktop (1400×1000)
and a phone (390×844) viewport, in the light and the dark colour scheme.
"""

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
DESKTOP, PHONE = {"width": 1400, "height": 1000}, {"width": 390, "height": 844}
LOOKS = [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light"), (PHONE, "dark")]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# WCAG contrast of each element's text against the first opaque background behind it.
CONTRAST_JS = """
(selector) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor, v = rgb(c);
      if (v.length === 3 || (v.length === 4 && v[3] > 0.5)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  return Array.from(document.querySelectorAll(selector)).map((el) => {
    const fg = getComputedStyle(el).color, bg = behind(el);
    const [a, b] = [lum(fg), lum(bg)];
    return {text: el.innerText.slice(0, 40), fg, bg, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
  });
}
"""


# The page's scroll position and the chat's place on screen...
WHERE_JS = """
() => {
  const r = document.querySelector('#chat').getBoundingClientRect();
  return {scrollY: window.scrollY, chat: [r.left, r.top, r.width, r.height]};
}
"""
# ...taken when a click on `selector` reaches the page, before any handler of the page has run.
# (Playwright's own missed attempts, when the link moved under the pointer, do not count.)
WHERE_AT_CLICK_JS = """
(selector) => {
  window.__atClick = null;
  const where = %s;
  const seen = (ev) => {
    if (!(ev.target.closest && ev.target.closest(selector))) return;
    window.__atClick = where();
    window.removeEventListener('click', seen, true);
  };
  window.addEventListener('click', seen, true);
}
""" % WHERE_JS.strip()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser, url, viewport, scheme):
    page = browser.new_page(viewport=viewport, color_scheme=scheme, accept_downloads=True)
    page.set_default_timeout(30_000)
    page.goto(url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("#question textarea")
    return page


def _ask(page, question, turn):
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_selector(f"#sources .sources[data-turn='{turn}']", state="attached")
    # ...and until the chat has taken the last update of the answer (nothing moves after this).
    page.wait_for_function("!document.querySelector('#chat [data-testid=status-tracker]:not(.hide)')")


def _shot(page, name, tmp_path):
    """README's pictures: refreshed on request, so a test run leaves the work tree alone."""
    shot = ROOT / "docs" / name if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / name
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def _contrast(page, selector):
    found = page.evaluate(CONTRAST_JS, selector)
    assert found, f"nothing on the page matches {selector}"
    low = [f for f in found if f["ratio"] < 4.5]
    assert not low, f"below WCAG AA (4.5:1): {low}"
    return min(f["ratio"] for f in found)


def test_readme_pictures_show_a_plain_conversation(real_seeded, browser, tmp_path):
    """README's pictures: two questions a reader of the article would ask, answered as a user's
    install answers them (the real embedding model), and the first answer's [1] opened in the
    viewer (written to docs/ with UPDATE_SCREENSHOT=1)."""
    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    with running_server(create_app(real_seeded, ui=mount)) as url:
        for viewport, name in ((DESKTOP, "screenshot.png"), (PHONE, "screenshot-phone.png")):
            page = _page(browser, url, viewport, "light")
            _ask(page, "Which German leader attended?", 1)
            _ask(page, "What weapons system did Germany refuse to send?", 2)
            chat = page.locator("#chat").inner_text()
            assert "Olaf Scholz" in chat and "Taurus cruise missiles" in chat
            page.locator("#chat a[href='#source-1-1']").first.click()
            page.wait_for_selector("#viewer mark.cited")
            page.wait_for_timeout(300)  # the viewer scrolls itself after it renders
            assert "Olaf Scholz" in page.locator("#viewer mark.cited").inner_text()
            assert page.locator("#viewer strong.answer-span").first.inner_text() == "Olaf Scholz"
            _shot(page, name, tmp_path)
            page.close()


def test_sources_viewer_and_readability(seeded, browser, tmp_path):
    """Sections 3 and 4: only the selected answer's sources; every [n] opens the whole article
    beside the chat (a drawer on a phone) scrolled to the cited sentence, without moving the
    chat; marks readable in both schemes; the question shown as typed; clearing clears sources."""
    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    typed = "<img src=x> **bold** and Italy?"
    with running_server(create_app(seeded, ui=mount)) as url:
        for viewport, scheme in LOOKS:
            page = _page(browser, url, viewport, scheme)
            phone = viewport is PHONE
            side = page.locator("#side")
            if phone:
                assert not side.is_visible(), "on a phone the sources wait in a drawer"
            _ask(page, "Who represented the US?", 1)
            page.wait_for_function("document.querySelector('#chat').innerText.includes('deputy secretary of state')")
            _ask(page, typed, 2)
            # The question as typed: no image, no bold, the characters themselves.
            last_question = page.locator("#chat .user-row .message-content").last
            assert typed in last_question.inner_text()
            assert last_question.locator("img, strong").count() == 0
            # A 1,700-character question scrolls inside its bubble: its answer stays in sight.
            _ask(page, "Who represented the US? " + "Tell me more about it, with every detail. " * 40, 3)
            bubble = page.locator("#chat .user-row .message-content").last.bounding_box()
            assert bubble["height"] < 260, bubble
            # Only the latest answer's sources, not a growing column of earlier ones.
            assert page.locator("#sources .sources").count() == 1
            assert page.locator("#sources [id^='source-1-']").count() == 0

            # The first answer's [1], two answers later: the article opens at the cited sentence.
            cite = "#chat a[href='#source-1-1']"
            link = page.locator(cite).first  # the short answer's [1]
            # Where the page and the chat are when the click lands: Playwright itself may scroll
            # again before it clicks (when the chat's own scrolling moves the link away). Under
            # load the chat may still redraw its messages, replacing the link between the press
            # and the release, and then no click reaches it: such a click is made again.
            for _ in range(3):
                page.evaluate(WHERE_AT_CLICK_JS, cite)
                link.click()
                at_click = page.evaluate("window.__atClick")
                if at_click:
                    break
                page.wait_for_timeout(500)
            assert at_click, "no click reached the [1] link"
            page.wait_for_selector("#viewer mark.cited")
            page.wait_for_timeout(300)  # the viewer scrolls itself after it renders
            assert "deputy secretary of state" in page.locator("#viewer mark.cited").inner_text()
            assert page.locator("#sources .sources[data-turn='1'] .source-card.selected").count() == 1
            look = f"{viewport['width']}px {scheme}"
            assert page.evaluate(WHERE_JS) == at_click, look
            box = page.locator("#viewer .viewer-text").bounding_box()
            mark = page.locator("#viewer mark.cited").bounding_box()
            assert box["y"] <= mark["y"] and mark["y"] + 20 <= box["y"] + box["height"], "scrolled to the sentence"
            assert 0 <= mark["y"] < viewport["height"], "in sight"
            assert "Paris summit on Ukraine" in page.locator("#viewer").inner_text()
            assert "# Paris" not in page.locator("#side").inner_text(), "text, not Markdown syntax"
            if phone:
                s = side.bounding_box()
                assert side.is_visible() and s["y"] + s["height"] <= viewport["height"] + 1
            ratio = _contrast(page, "#side mark.cited, #side strong.answer-span, #side a")
            print(f"{viewport['width']}px {scheme}: lowest contrast of marks and links {ratio:.1f}:1")
            if phone:
                page.locator("#side .drawer-close").click()
                page.wait_for_function("!document.querySelector('#side').hasAttribute('data-open')")
                assert not side.is_visible()
            # A click on an answer shows its sources; the answer's own "sources" link does too.
            page.locator("#chat a[href='#sources-2']").click()  # from answer 2's notes line
            page.wait_for_selector("#sources .sources[data-turn='2']", state="attached")
            if phone:
                page.locator("#side .drawer-close").click()
            # The Chatbot's own trash icon clears the chat and its sources.
            page.locator("#chat button[aria-label='Clear']").click()
            page.wait_for_function("!document.querySelector('#sources').innerText.includes('Sources of answer')")
            assert page.locator("#viewer mark").count() == 0
            page.close()


def test_articles_tab_removal_and_messages(seeded, browser, tmp_path):
    """Sections 2 and 4: nothing chosen until the user chooses, removal asks first naming the
    article and its chunks; plain-word messages beside the button; fields clear after success."""
    from playwright.sync_api import expect

    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    chunks = seeded.articles()[0].chunk_count
    with running_server(create_app(seeded, ui=mount)) as url:
        for k, (viewport, scheme) in enumerate(LOOKS):
            page = _page(browser, url, viewport, scheme)
            page.get_by_role("tab", name="Articles").click()
            assert page.locator("#chosen input").input_value() == "", "no article chosen by default"
            page.locator("#remove").click()
            expect(page.locator("#article-status")).to_contain_text("Choose an article to remove")

            story = tmp_path / f"brest-{k}.txt"  # its id is its file name's
            story.write_text(f"Brest harbour reopens {k}\n\nThe harbour of Brest reopened on Tuesday. "
                             "The new harbour master is Yann Le Goff.")
            page.locator("#upload input[type=file]").set_input_files(str(story))
            page.locator("#index-file").click()
            expect(page.locator("#upload-status")).to_contain_text(f"Added “Brest harbour reopens {k}” (1 passage).")
            expect(page.locator("#upload .file-preview, #upload table")).to_have_count(0)  # cleared

            page.locator("#pasted textarea").fill(f"Riverton Solar Farm {k}\n\nThe farm opened on Monday with 400 panels.")
            page.locator("#index-text").click()
            expect(page.locator("#paste-status")).to_contain_text(f"Added “Riverton Solar Farm {k}” (1 passage).")
            assert page.locator("#pasted textarea").input_value() == ""

            page.locator("#url textarea, #url input").first.fill("http://127.0.0.1:9/story")
            page.locator("#fetch-url").click()
            expect(page.locator("#url-status")).to_contain_text("non-public address")
            assert "RAG_" not in page.locator("#url-status").inner_text()
            assert page.locator("#url textarea, #url input").first.input_value() != "", "kept after a failure"

            # Remove the seed article: confirmation first, naming it and its chunks; Cancel keeps it.
            if k == 0:
                page.locator("#chosen input").click()
                page.get_by_role("option", name="paris-summit-on-ukraine").click()
                page.locator("#remove").click()
                expect(page.locator("#confirm-text")).to_contain_text(
                    f"Remove “Paris summit on Ukraine” (paris-summit-on-ukraine) and its {chunks} chunks?")
                page.locator("#confirm-no").click()
                expect(page.locator("#article-status")).to_contain_text("Nothing was removed")
                assert "paris-summit-on-ukraine" in [a.id for a in seeded.articles()]
            # Each look removes the file it uploaded, after confirming.
            page.locator("#chosen input").click()
            page.get_by_role("option", name=f"brest-{k}", exact=True).click()
            page.locator("#remove").click()
            expect(page.locator("#confirm-remove")).to_be_visible()
            if viewport is PHONE and scheme == "dark":
                page.screenshot(path=str(tmp_path / "confirm-phone-dark.png"))
            page.locator("#confirm-yes").click()
            expect(page.locator("#article-status")).to_contain_text(f"Removed “Brest harbour reopens {k}” (1 passage).")
            expect(page.locator("#confirm-remove")).to_be_hidden()
            assert f"brest-{k}" not in [a.id for a in seeded.articles()]
            page.close()
    assert "paris-summit-on-ukraine" in [a.id for a in seeded.articles()]


def test_chat_conveniences(seeded, browser, tmp_path):
    """Section 5: the scope on each answer, examples that fit it, ask again, edit and resend,
    and the conversation as Markdown with its quoted passages."""
    from playwright.sync_api import expect

    from rag.http.app import create_app
    from tests.helpers.server import running_server
    from ui.app import mount

    seeded.index_text("The tram line opens in May. It has twelve stops.", title="Tram")
    with running_server(create_app(seeded, ui=mount)) as url:
        for viewport, scheme in LOOKS:
            page = _page(browser, url, viewport, scheme)
            examples = page.locator("#examples")
            expect(examples).to_contain_text("Who represented the US?")
            page.locator("#examples button", has_text="Who represented the US?").click()
            expect(page.locator("#question textarea")).to_have_value("Who represented the US?")
            page.locator("#ask").click()
            page.wait_for_selector("#sources .sources[data-turn='1']", state="attached")
            expect(page.locator("#chat")).to_contain_text("Asked about: All articles")

            # Ask again: the same question, answered again in place.
            page.locator("#chat button[aria-label='Retry']").click()
            page.wait_for_timeout(500)
            page.wait_for_selector("#sources .sources[data-turn='1']", state="attached")
            assert page.locator("#chat .user-row").count() == 1

            # Edit and resend: the question is replaced and answered again.
            page.locator("#chat .user-row").first.hover()
            page.locator("#chat button[aria-label='Edit']").first.click()
            editor = page.locator("#chat textarea.edit-textarea")
            editor.fill("Which countries' presidents were there?")
            page.locator("#chat button[aria-label='Submit']").click()
            expect(page.locator("#chat .user-row").first).to_contain_text("Which countries' presidents were there?")
            page.wait_for_function("!document.querySelector('#chat').innerText.includes('deputy secretary')")
            # ...and until that answer has finished (a question asked meanwhile would wait behind it).
            expect(page.locator("#sources .source-question")).to_have_text("Which countries' presidents were there?")
            page.wait_for_function("!document.querySelector('#chat [data-testid=status-tracker]:not(.hide)')")
            assert page.locator("#chat .user-row").count() == 1

            # The scope: shown on the answer, and the examples follow it (none for the tram).
            page.locator("#scope input").click()
            page.get_by_role("option", name="tram").click()
            expect(examples).to_be_hidden()
            _ask(page, "When does the tram line open?", 2)
            expect(page.locator("#chat .bot-row").last).to_contain_text("Asked about: “Tram”")

            # The conversation as Markdown, with each answer's quoted passages.
            with page.expect_download() as download:
                page.locator("#download-md").click()
            markdown = Path(download.value.path()).read_text(encoding="utf-8")
            assert "## 1. Which countries' presidents were there?" in markdown
            assert "## 2. When does the tram line open?" in markdown and "*Asked about: “Tram”*" in markdown
            assert "> [1] “" in markdown and "(`tram`" in markdown
            assert page.locator("#export-md textarea").input_value() == markdown
            page.close()


def test_the_url_box_and_reindex_never_read_server_files(seeded, browser):
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
    with running_server(app) as url:
        page = _page(browser, url, DESKTOP, "light")
        page.get_by_role("tab", name="Articles").click()
        for typed in ["/etc/os-release", "~/.bashrc", ".", "seeds", "file:///etc/passwd", "FILE:/etc/passwd",
                      " /etc/passwd"]:
            page.locator("#url textarea, #url input").first.fill(typed)
            page.locator("#fetch-url").click()
            expect(page.locator("#url-status")).to_contain_text(f"'{typed.strip()}' is not a web address")
        page.locator("#chosen input").click()
        page.get_by_role("option", name="notes").click()
        page.locator("#reindex").click()
        expect(page.locator("#article-status")).to_contain_text("uploaded or pasted")
    assert [(a.id, a.content_hash) for a in seeded.articles()] == before
    assert "ID=" not in "".join(seeded.article(a).text for a, _ in before)  # /etc/os-release never indexed
