"""Sentence-aware chunking that keeps character offsets into the article text.

Written here rather than taken from LangChain's splitters because citations need two things those
splitters do not give: the exact sentence boundaries (an answer cites one sentence, not a chunk)
and offsets that are exact by construction (`RecursiveCharacterTextSplitter(add_start_index=True)`
recovers them by searching for the chunk text, which strips whitespace and can match the wrong
repeat). Every `Sentence` and `Chunk` here satisfies `text[start:end] == piece`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "pres", "rev", "hon", "vs", "etc", "e.g", "i.e", "cf", "al", "inc",
    "ltd", "co", "corp", "no", "nos", "vol", "fig", "approx", "dept", "univ", "u.s", "u.k",
    "u.n", "a.m", "p.m", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec",
}

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_LINE_START_MARK = re.compile(r"\s*(?:[-*•#>]|\d+[.)])\s")


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    paragraph: int


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` ends an abbreviation or an initial, not a sentence."""
    if text[dot] != ".":
        return False
    m = re.search(r"([\w.]+)$", text[max(0, dot - 12) : dot])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # Single initials ("J. K. Rowling") and dotted acronyms ("U.S.") do not end sentences
    # when a capitalised word follows; the caller decides with the next character.
    return len(word) == 1 and word.isalpha()


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cap_length(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Break a run-on span longer than `limit` at whitespace (or anywhere, as a last resort)."""
    spans = []
    while end - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        if cut <= start:
            cut = start + limit
        s, e = _trimmed(text, start, cut)
        if e > s:
            spans.append((s, e))
        start = cut
    s, e = _trimmed(text, start, end)
    if e > s:
        spans.append((s, e))
    return spans


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph at line breaks that look like structure (lists, headings, ended lines)."""
    pieces, cursor = [], start
    for m in re.finditer(r"\n", text[start:end]):
        nl = start + m.start()
        before = text[cursor:nl].rstrip()
        after = text[nl + 1 : end]
        if not before:
            continue
        ends_line = before[-1] in ".!?:;\"”’)" or len(before) < 60
        if ends_line or _LINE_START_MARK.match(after):
            pieces.append((cursor, nl))
            cursor = nl + 1
    pieces.append((cursor, end))
    return pieces


def split_sentences(text: str, max_chars: int = 1000) -> list[Sentence]:
    """Sentences of `text` with exact offsets; paragraphs are numbered from 0."""
    sentences: list[Sentence] = []
    para_starts = [0] + [m.end() for m in _PARAGRAPH.finditer(text)]
    para_ends = [m.start() for m in _PARAGRAPH.finditer(text)] + [len(text)]
    paragraph = -1
    for p_start, p_end in zip(para_starts, para_ends):
        if not text[p_start:p_end].strip():
            continue
        paragraph += 1
        for l_start, l_end in _split_lines(text, p_start, p_end):
            cursor = l_start
            for m in _BOUNDARY.finditer(text, l_start, l_end):
                nxt = text[m.end() : l_end].lstrip()
                if not nxt:
                    continue
                first = nxt[0]
                if _is_abbreviation(text, m.start()) and (first.isupper() or first.isdigit()):
                    # "Dr. Smith", "U.S. Army": keep going unless it is clearly a new sentence
                    # after a common word abbreviation like "etc." (rare; accept the miss).
                    continue
                if not (first.isupper() or first.isdigit() or first in "\"'“‘«([¿¡"):
                    continue
                for s, e in _cap_length(text, cursor, m.end(), max_chars):
                    sentences.append(Sentence(s, e, paragraph))
                cursor = m.end()
            for s, e in _cap_length(text, cursor, l_end, max_chars):
                sentences.append(Sentence(s, e, paragraph))
    return sentences


def chunk_sentences(
    text: str, sentences: list[Sentence], chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """Group consecutive sentences into chunks of about `chunk_size` characters.

    A chunk ends early at a paragraph break once it is half full, so chunks follow the article's
    own structure. The next chunk repeats trailing sentences up to `chunk_overlap` characters.
    """
    chunks: list[Chunk] = []
    i, n = 0, len(sentences)
    while i < n:
        j = i
        start = sentences[i].start
        while j + 1 < n:
            nxt = sentences[j + 1]
            if nxt.end - start > chunk_size:
                break
            if nxt.paragraph != sentences[j].paragraph and sentences[j].end - start >= chunk_size // 2:
                break
            j += 1
        end = sentences[j].end
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if j + 1 >= n:
            break
        # Step back over trailing sentences that fit in the overlap, always moving forward.
        k = j + 1
        while k - 1 > i and end - sentences[k - 1].start <= chunk_overlap:
            k -= 1
        i = k
    return chunks


def chunk_article(text: str, chunk_size: int, chunk_overlap: int) -> tuple[list[Sentence], list[Chunk]]:
    """The article's sentences and its chunks, exactly as indexing makes them."""
    sentences = split_sentences(text, max_chars=chunk_size)
    return sentences, chunk_sentences(text, sentences, chunk_size, chunk_overlap)


def chunk_text(text: str, chunk_size: int = 600, chunk_overlap: int = 150) -> list[Chunk]:
    """Chunks of `text` (see `chunk_sentences`)."""
    return chunk_article(text, chunk_size, chunk_overlap)[1]


def sentence_range(sentences: list[Sentence], starts: list[int], start: int, end: int) -> range:
    """Indices of the sentences inside [start, end); `starts` are the sentences' start offsets."""
    lo = bisect.bisect_left(starts, start)
    hi = bisect.bisect_left(starts, end)
    # A chunk's first sentence may start before it only through trimming; include it.
    if lo > 0 and sentences[lo - 1].end > start:
        lo -= 1
    return range(lo, hi)


def sentence_spans(chunks: list[Chunk], sentences: list[Sentence]) -> tuple[list[range], list[list[tuple[int, int]]]]:
    """For each chunk, the indices of its sentences and their spans relative to the chunk text."""
    starts = [s.start for s in sentences]
    members = [sentence_range(sentences, starts, c.start, c.end) for c in chunks]
    spans = [[(sentences[i].start - c.start, sentences[i].end - c.start) for i in m] for c, m in zip(chunks, members)]
    return members, spans
