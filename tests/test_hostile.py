"""Hostile and broken input: each gets a clear error or safe handling, and the index is unchanged."""

import pytest

from rag.errors import AnswerError, IngestError, TooLargeError
from rag.ingest import load_url


def _snapshot(assistant):
    return [(c.id, c.start, c.end) for c in assistant.store.chunks()], [a.id for a in assistant.articles()]


def test_empty_huge_and_control_character_questions(seeded):
    with pytest.raises(AnswerError, match="empty"):
        seeded.ask("")
    with pytest.raises(AnswerError, match="limit"):
        seeded.ask("x" * 100_000)
    answer = seeded.ask("Who\x00 represented\x1b[31m the US?\x07")
    assert "deputy secretary of state" in answer.text
    assert answer.question == "Who represented the US?"  # terminal codes go whole, not just the ESC


def test_a_20_mb_article_is_refused_with_the_limit_named(seeded, tmp_path):
    before = _snapshot(seeded)
    big = tmp_path / "big.txt"
    big.write_text("The river flooded the valley. " * 700_000)
    assert big.stat().st_size > 20_000_000
    report = seeded.index(big)
    assert report.failed and "RAG_MAX_ARTICLE_BYTES" in report.failed[0][1]
    with pytest.raises(TooLargeError):
        seeded.index_bytes(big.read_bytes(), "big.txt")
    assert _snapshot(seeded) == before


def test_html_with_scripts_and_iframes_keeps_only_text(assistant):
    html = (
        "<html><body><iframe src='https://evil.example/'></iframe><script>steal()</script>"
        "<article><p>" + "The old mill was restored by volunteers over three summers. " * 4 + "</p>"
        "<p onclick='steal()'>It now grinds flour for the village bakery.</p></article></body></html>"
    )
    assistant.index_bytes(html.encode(), "mill.html")
    text = assistant.article("mill").text
    assert "steal()" not in text and "iframe" not in text and "evil.example" not in text
    assert "grinds flour" in text


def test_encrypted_pdf_is_refused(tmp_path, seeded):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    path = tmp_path / "locked.pdf"
    enc = pdfencrypt.StandardEncryption("user-secret", ownerPassword="owner-secret", strength=128)
    c = canvas.Canvas(str(path), encrypt=enc)
    c.drawString(72, 720, "Secret minutes of the council.")
    c.save()
    before = _snapshot(seeded)
    report = seeded.index(path)
    assert report.failed and "encrypted" in report.failed[0][1]
    assert _snapshot(seeded) == before


def test_upload_names_cannot_traverse_paths(assistant, tmp_path):
    report = assistant.index_bytes(b"The ferry runs hourly in summer.", "../../../etc/passwd.txt")
    assert report.added == ["passwd"]
    info = assistant.articles()[0]
    assert info.source == "upload:passwd.txt"
    assert not (tmp_path / "etc").exists()


def test_urls_time_out_and_redirects_are_checked(local_site):
    with pytest.raises(IngestError, match="did not answer within"):
        load_url(f"{local_site}/slow", timeout=0.5, max_bytes=10**6, allow_private=True)
    with pytest.raises(IngestError, match="only http and https"):
        load_url(f"{local_site}/to-file", timeout=2, max_bytes=10**6, allow_private=True)
    article = load_url(f"{local_site}/page", timeout=2, max_bytes=10**6, allow_private=True)
    assert "lighthouse was repainted" in article.text


def test_private_addresses_are_refused_unless_allowed(local_site):
    with pytest.raises(IngestError, match="non-public address"):
        load_url(f"{local_site}/page", timeout=2, max_bytes=10**6)
    with pytest.raises(IngestError, match="too large|over the"):
        load_url(f"{local_site}/page", timeout=2, max_bytes=10, allow_private=True)


def test_redirect_to_a_private_address_is_refused(local_site, monkeypatch):
    """The first hop is allowed (a public site, simulated); the redirect to 10.0.0.1 is not."""
    import rag.ingest as ingest

    real = ingest._check_public_host
    calls = []

    def first_hop_public(url, allow_private):
        calls.append(url)
        return None if len(calls) == 1 else real(url, allow_private)

    monkeypatch.setattr(ingest, "_check_public_host", first_hop_public)
    monkeypatch.setattr(ingest, "_check_peer", lambda resp, url, allow_private: None)  # the site is "public"
    with pytest.raises(IngestError, match="non-public address 10.0.0.1"):
        load_url(f"{local_site}/to-private", timeout=2, max_bytes=10**6)


def test_a_host_that_rebinds_to_a_private_address_is_refused(local_site, monkeypatch):
    """DNS said "public" when the host was checked; the connection still went to 127.0.0.1."""
    import rag.ingest as ingest

    monkeypatch.setattr(ingest, "_check_public_host", lambda url, allow_private: None)
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(IngestError, match="connected to the non-public address 127.0.0.1"):
        load_url(f"{local_site}/page", timeout=2, max_bytes=10**6)
    # A proxy for https only does not switch the check off for an http URL, which goes direct.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    with pytest.raises(IngestError, match="connected to the non-public address 127.0.0.1"):
        load_url(f"{local_site}/page", timeout=2, max_bytes=10**6)
    assert ingest._through_proxy("https://example.com/story")
    monkeypatch.setenv("NO_PROXY", "example.com")
    assert not ingest._through_proxy("https://example.com/story")
