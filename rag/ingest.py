"""Load articles from text, Markdown, HTML and PDF files, folders and URLs into clean text + metadata."""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import unicodedata
from pathlib import Path
from urllib.parse import urljoin, urlparse

from rag.errors import IngestError, TooLargeError
from rag.types import Article

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


def slugify(value: str, fallback: str = "article") -> str:
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:80].strip("-") or fallback


def title_from_name(stem: str) -> str:
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled article"


# Terminal colour and cursor codes ("\x1b[31m"): dropping only the ESC would leave "[31m" behind.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def normalise_text(text: str) -> str:
    """Unix newlines, no NULs, terminal codes or stray control characters; the text users see and we cite."""
    text = _ANSI_ESCAPE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _check_not_empty(text: str, source: str) -> str:
    if not text.strip():
        raise IngestError(f"Article '{source}' is empty: nothing was indexed.")
    return text


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text from bytes, with a clear error for binary or other encodings."""
    if b"\x00" in data[:8192]:
        raise IngestError(
            f"'{source}' looks like a binary file, not an article: give a .txt, .md, .html or .pdf file."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"'{source}' is not UTF-8 text (byte {exc.start} is invalid): "
            "convert it to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and index it again."
        ) from None


def _markdown_title(text: str) -> str | None:
    m = re.search(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return m.group(1).strip() if m else None


# Inline markup: inside running text it is part of the sentence, never a line of its own.
INLINE_TAGS = frozenset(
    "a abbr b bdi bdo cite code data dfn em font i ins kbd mark q s samp small span strong sub sup time tt u var".split()
)


def _own_text(element) -> bool:
    """The element holds running text itself (not only inside its children)."""
    return bool((element.text or "").strip()) or any((child.tail or "").strip() for child in element)


def unwrap_inline_markup(html: str) -> str:
    """The page with inline elements of running text unwrapped into it.

    trafilatura's fallback extractors (pages without `<article>` or `<main>`) put each inline
    element on a line of its own: `<p>The mayor, <b>Ann Lee</b>, opened …` became "The mayor,\nAnn
    Lee\n, opened …", and sentences broke at every link. An inline element is unwrapped only where
    its parent holds text of its own, so a menu of bare links (`<li><a>Home</a></li>`) stays a menu
    for the boilerplate filter.
    """
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html  # trafilatura reports what it cannot read
    # Deepest first, so nested inline markup (<a><b>…</b></a>) unwraps into its parent's text.
    for element in reversed(list(root.iter(*INLINE_TAGS))):
        parent = element.getparent()
        if parent is not None and (_own_text(parent) or parent.tag in INLINE_TAGS):
            element.drop_tag()
    return lxml.html.tostring(root, encoding="unicode")


def headline_title(text: str) -> str | None:
    """The first line when it reads like a headline: short, more text after it, no sentence end."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 2 or not lines[0]:
        return None
    first = lines[0].lstrip("#").strip()
    if not 3 <= len(first) <= 120 or len(first.split()) > 16 or first[-1] in ".,;:":
        return None
    return first if first[0].isupper() or first[0].isdigit() else None


def pasted_title(text: str) -> str:
    """A title for pasted text, capitals kept: its heading, its headline, or its opening words."""
    found = _markdown_title(text) or headline_title(text)
    if found:
        return found
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if len(first) <= 60:
        return first or "Pasted text"
    cut = first.rfind(" ", 0, 60)
    return first[: cut if cut > 20 else 60].rstrip(" ,;:") + "…"


def parse_html(html: str, source: str) -> tuple[str, str | None]:
    """Main text and title of a web page (navigation, scripts and boilerplate dropped)."""
    import trafilatura

    text = trafilatura.extract(
        unwrap_inline_markup(html), include_comments=False, include_tables=True, favor_recall=True
    )
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None and meta.title else None
    if not text or not text.strip():
        raise IngestError(f"No article text could be extracted from the HTML in '{source}'.")
    return text, title


def parse_pdf(data: bytes, source: str) -> tuple[str, str | None]:
    """Text and title of a PDF; encrypted or image-only PDFs are refused with a reason."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise IngestError(
                        f"PDF '{source}' is encrypted: save an unencrypted copy and index that."
                    )
            except IngestError:
                raise
            except Exception:
                raise IngestError(
                    f"PDF '{source}' is encrypted: save an unencrypted copy and index that."
                ) from None
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"'{source}' is not a readable PDF ({exc}).") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise IngestError(
            f"PDF '{source}' has no extractable text (a scanned image?): OCR it first, then index it."
        )
    return text, title


def article_from_bytes(
    data: bytes, *, source: str, name: str, kind: str | None = None, article_id: str | None = None
) -> Article:
    """An `Article` from raw bytes; `kind` is text/markdown/html/pdf, guessed from `name` if None."""
    suffix = Path(name).suffix.lower()
    if kind is None:
        if suffix in PDF_SUFFIXES or data[:5] == b"%PDF-":
            kind = "pdf"
        elif suffix in HTML_SUFFIXES:
            kind = "html"
        elif suffix in {".md", ".markdown"}:
            kind = "markdown"
        else:
            kind = "text"
    stem = Path(name).stem or "article"
    title: str | None
    if kind == "pdf":
        text, title = parse_pdf(data, source)
    elif kind == "html":
        text, title = parse_html(decode_text(data, source), source)
    else:
        text = decode_text(data, source)
        title = (_markdown_title(text) if kind == "markdown" else None) or headline_title(text)
    text = _check_not_empty(normalise_text(text), source)
    title = title or title_from_name(stem)
    return Article(id=article_id or slugify(stem), title=title, source=source, text=text)


def shown_path(file: Path, root: Path) -> str:
    """How a file is shown to clients: its path relative to the folder it was indexed from, or its
    name when it was given on its own (never the server's absolute path)."""
    if root.is_dir():
        try:
            return file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # a symlink out of the folder
            pass
    return file.name


def load_path(path: Path, max_bytes: int, shown: str | None = None) -> Article:
    """One file as an `Article`, shown as `shown` (default: the file name); its absolute path is
    kept as `location`."""
    source = str(path)
    if not path.exists():
        raise IngestError(f"'{source}' does not exist: check the path.")
    if not path.is_file():
        raise IngestError(f"'{source}' is not a regular file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLargeError(
            f"'{source}' is {size:,} bytes, over the {max_bytes:,}-byte limit (RAG_MAX_ARTICLE_BYTES)."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"Could not read '{source}': {exc.strerror}.") from None
    article = article_from_bytes(data, source=shown or path.name, name=path.name)
    article.origin = "file"
    article.location = str(path.resolve())
    return article


def expand_paths(target: Path) -> list[Path]:
    """The file itself, or every supported file under a folder (sorted, hidden files skipped)."""
    if target.is_dir():
        files = [
            p
            for p in sorted(target.rglob("*"))
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(target).parts)
        ]
        if not files:
            raise IngestError(
                f"Folder '{target}' holds no .txt, .md, .html or .pdf files: nothing was indexed."
            )
        return files
    return [target]


def is_url(value: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value))


_WEB_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, from JSON escapes
        return False
    return True


def check_web_url(value: object) -> str:
    """A URL a user typed, or a clear error: http(s) with a host and nothing else, so that a path,
    a folder, `file:` or `~` never reaches the file loader (the server's disk is not the user's)."""
    url = value.strip() if isinstance(value, str) else ""
    if not _WEB_URL.fullmatch(url) or not url.isprintable() or not _is_utf8(url):
        shown = url.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates shown, not raised
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        raise IngestError(
            f"'{shown}' is not a web address: give a link that starts with http:// or https://."
        )
    return url


def _check_public_host(url: str, allow_private: bool) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise IngestError(f"Refusing to fetch '{url}': only http and https URLs are supported.")
    host = parsed.hostname
    if not host:
        raise IngestError(f"'{url}' has no host name.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parsed.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise IngestError(f"Could not resolve the host of '{url}': check the address.") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise IngestError(
                f"Refusing to fetch '{url}': it resolves to the non-public address {addr}. "
                "Set RAG_ALLOW_PRIVATE_URLS=true to allow it."
            )


def _through_proxy(url: str) -> bool:
    """Whether httpx sends this URL through a proxy from the environment (the scheme's own proxy
    variable or ALL_PROXY, unless NO_PROXY names the host)."""
    from urllib.request import getproxies, proxy_bypass

    parsed = urlparse(url)
    proxies = getproxies()
    if not (proxies.get(parsed.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(parsed.hostname or "")


def _check_peer(resp, url: str, allow_private: bool) -> None:
    """The address actually connected to must be public too: a host name can resolve to a public
    address when checked and to a private one when httpx connects (DNS rebinding). Through a
    proxy the peer is the proxy, which the user chose, so there is nothing to check.

    The request has been sent by then (its response is never read): a blind GET to an internal
    address through rebinding is still possible; pinning the connection to the checked address
    would close that, at the cost of handling TLS names by hand."""
    if allow_private or _through_proxy(url):
        return
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return
    addr = ipaddress.ip_address(peer[0])
    if not addr.is_global:
        raise IngestError(
            f"Refusing to fetch '{url}': it connected to the non-public address {addr}. "
            "Set RAG_ALLOW_PRIVATE_URLS=true to allow it."
        )


def load_url(url: str, *, timeout: float, max_bytes: int, allow_private: bool = False) -> Article:
    """Fetch a web page or PDF; redirects are followed by hand so each hop is checked."""
    import httpx

    current = url
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _ in range(6):
                _check_public_host(current, allow_private)
                with client.stream("GET", current, headers={"User-Agent": "article-chat/0.1"}) as resp:
                    _check_peer(resp, current, allow_private)
                    if resp.is_redirect:
                        current = urljoin(current, resp.headers.get("location", ""))
                        continue
                    if resp.status_code >= 400:
                        raise IngestError(f"'{url}' answered HTTP {resp.status_code}: nothing was indexed.")
                    chunks, total = [], 0
                    for part in resp.iter_bytes():
                        total += len(part)
                        if total > max_bytes:
                            raise TooLargeError(
                                f"'{url}' is over the {max_bytes:,}-byte limit (RAG_MAX_ARTICLE_BYTES)."
                            )
                        chunks.append(part)
                    data = b"".join(chunks)
                    ctype = resp.headers.get("content-type", "").lower()
                    break
            else:
                raise IngestError(f"'{url}' redirects too many times.")
    except httpx.TimeoutException:
        raise IngestError(f"'{url}' did not answer within {timeout:g} s: try again later.") from None
    except httpx.HTTPError as exc:
        raise IngestError(f"Could not fetch '{url}': {exc}.") from None
    except ValueError:  # a host or port that cannot be parsed or encoded (urllib, idna)
        raise IngestError(f"'{url}' is not a valid web address: check it and try again.") from None
    parsed = urlparse(current)
    name = Path(parsed.path).name or parsed.hostname or "page"
    if "pdf" in ctype:
        kind = "pdf"
    elif "html" in ctype or "xml" in ctype:
        kind = "html"
    elif ctype.startswith("text/"):
        kind = "markdown" if "markdown" in ctype else "text"
    else:
        kind = None
    article_id = slugify(f"{parsed.hostname or ''}-{Path(parsed.path).stem}")
    article = article_from_bytes(data, source=url, name=name, kind=kind, article_id=article_id)
    article.origin = "url"
    return article


def load_sources(targets: list[str], *, timeout: float, max_bytes: int, allow_private: bool):
    """Yield `(target, Article | IngestError)` for every file, folder entry and URL given."""
    for target in targets:
        if is_url(target):
            try:
                yield target, load_url(target, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private)
            except IngestError as exc:
                yield target, exc
            continue
        path = Path(target).expanduser()
        try:
            files = expand_paths(path)
        except IngestError as exc:
            yield target, exc
            continue
        for file in files:
            try:
                yield str(file), load_path(file, max_bytes, shown_path(file, path))
            except IngestError as exc:
                yield str(file), exc
