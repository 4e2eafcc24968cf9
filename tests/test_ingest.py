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
