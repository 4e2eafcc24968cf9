"""Loading articles: formats, titles, and clear errors for bad input."""

import pytest

from rag.errors import IngestError
from rag.ingest import article_from_bytes, load_path, load_url
from tests.conftest import SEED, write


def test_markdown_title_and_id_come_from_the_file():
    article = load_path(SEED, 10**7)
    assert article.id == "paris-summit-on-ukraine"
    assert article.title == "Paris summit on Ukraine"
    assert len(article.content_hash) == 64
    assert "deputy secretary of state" in article.text


def test_plain_text_title_from_file_name(tmp_path):
    article = load_path(write(tmp_path / "city_council-vote.txt", "The council voted."), 10**7)
    assert (article.id, article.title) == ("city-council-vote", "City council vote")


def test_html_keeps_the_article_and_drops_scripts():
    html = (
        "<html><head><title>Harbour reopens</title><script>alert('x')</script></head><body>"
        "<nav>Home | News</nav><article><h1>Harbour reopens</h1>"
        + "<p>The harbour reopened on Tuesday after repairs that lasted two years. " * 3
        + "</p><p>Fishermen welcomed the news and the mayor cut a ribbon.</p></article></body></html>"
    )
    article = article_from_bytes(html.encode(), source="x.html", name="x.html")
    assert article.title == "Harbour reopens"
    assert "harbour reopened on Tuesday" in article.text
    assert "alert(" not in article.text


def test_pdf_text_is_extracted(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "report.pdf"
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "The bridge will open in May.")
    c.save()
    article = load_path(path, 10**7)
    assert "bridge will open in May" in article.text


def test_pdf_without_text_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(10, 10, 100, 100)
    c.save()
    with pytest.raises(IngestError, match="no extractable text"):
        load_path(path, 10**7)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("   \n\t \n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"caf\xe9 au lait", "not UTF-8"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path, content, message):
    with pytest.raises(IngestError, match=message):
        load_path(write(tmp_path / "bad.txt", content), 10**7)


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        load_path(tmp_path / "nope.txt", 10**7)
    with pytest.raises(IngestError, match="over the 10-byte limit"):
        load_path(write(tmp_path / "big.txt", "x" * 100), 10)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a", "http://127.0.0.1:1/a"])
def test_urls_that_are_not_public_http_are_refused(url):
    with pytest.raises(IngestError, match="Refusing"):
        load_url(url, timeout=1, max_bytes=1000)


@pytest.mark.parametrize(
    ("html", "sentences"),
    [
        ("<html><body><p>The mayor, <b>Ann Lee</b>, opened the bridge on Friday.</p></body></html>",
         ["The mayor, Ann Lee, opened the bridge on Friday."]),
        ("<html><head><title>Bridge</title></head><body><p>The mayor, <b>Ann Lee</b>, opened the bridge on "
         "Friday.</p><p>It cost <a href='/money'>four million <em>euros</em></a> and took two years.</p></body></html>",
         ["The mayor, Ann Lee, opened the bridge on Friday.", "It cost four million euros and took two years."]),
    ],
)
def test_inline_markup_stays_inside_its_sentence_on_a_page_without_article_structure(html, sentences):
    # trafilatura's fallback (short pages, no <article>/<main>) put <b>, <a>, <em> on lines of their own.
    text = article_from_bytes(html.encode(), source="x.html", name="x.html").text
    for sentence in sentences:
        assert sentence in text


def test_a_full_news_page_keeps_linked_and_emphasised_words_in_their_sentences():
    paragraphs = "".join(
        f"<p>Paragraph {i} says the council, led by <a href='/p/{i}'>Mayor Ann Lee</a>, voted "
        f"<strong>{i} times</strong> on the <em>new harbour</em> plan this week.</p>"
        for i in range(1, 6)
    )
    html = (
        "<html><head><title>Council votes</title><meta property='og:title' content='Council votes'></head>"
        "<body><header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<main><article><h1>Council votes</h1><p class='byline'>By <a href='/a'>Kim Ray</a></p>{paragraphs}"
        "</article></main><aside><h2>Most read</h2><ul><li><a href='/x'>Another story</a></li></ul></aside>"
        "<footer>© News Co</footer></body></html>"
    )
    text = article_from_bytes(html.encode(), source="x.html", name="x.html").text
    for i in range(1, 6):
        assert f"Paragraph {i} says the council, led by Mayor Ann Lee, voted {i} times on the new harbour plan this week." in text
    assert "© News Co" not in text
