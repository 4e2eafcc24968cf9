"""Sentence splitting and chunking keep exact offsets into the article text."""

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from rag.chunking import chunk_text, split_sentences
from tests.conftest import SEED


def test_seed_chunks_are_exact_slices_and_cover_the_text():
    text = SEED.read_text()
    chunks = chunk_text(text, 600, 150)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 600
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_sentences_respect_abbreviations_and_quotes():
    text = 'Dr. Smith met U.S. officials. “We agreed,” he said. Then he left! Did he? Yes.'
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "Dr. Smith met U.S. officials.",
        "“We agreed,” he said.",
        "Then he left!",
        "Did he?",
        "Yes.",
    ]


def test_paragraphs_are_numbered_and_never_merged_inside_a_sentence():
    text = "First para one. First para two.\n\nSecond para.\n\n\nThird para."
    sentences = split_sentences(text)
    assert [s.paragraph for s in sentences] == [0, 0, 1, 2]


def test_overlap_repeats_trailing_sentences_and_always_advances():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_text(text, 200, 60)
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:])), "expected some overlap"
    assert chunks[-1].end == len(text)


def test_run_on_text_without_punctuation_is_capped():
    text = "word " * 1000
    chunks = chunk_text(text, 300, 0)
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)


@hsettings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(100, 900), st.integers(0, 300))
def test_offsets_hold_for_arbitrary_unicode(text, size, overlap):
    for s in split_sentences(text, max_chars=size):
        piece = text[s.start : s.end]
        assert piece and piece == piece.strip()
    for c in chunk_text(text, size, overlap):
        assert text[c.start : c.end] == c.text
        assert c.text.strip()
