"""`rag eval`: files that carry their own articles never touch the user's index."""

import json

import pytest

from rag.errors import RagError
from rag.evaluate import load_file, run_eval
from tests.conftest import write

SQUAD_STYLE = {
    "title": "Brest_harbour",
    "article_text": "The harbour of Brest reopened on Tuesday.\n\nThe new harbour master is Yann Le Goff.",
    "questions": [
        {"id": "q1", "question": "Who is the new harbour master?", "answers": ["Yann Le Goff"], "paragraph_index": 1},
        {"id": "q2", "question": "What is the capital of Australia?", "answers": [], "is_impossible": True},
    ],
}


def test_squad_style_articles_go_to_a_scratch_index_even_in_server_mode(seeded, tmp_path):
    path = write(tmp_path / "squad_tiny.jsonl", json.dumps(SQUAD_STYLE) + "\n")
    before = [a.id for a in seeded.articles()]
    # Pointed at a Chroma server that is not running: if the scratch run used these settings it
    # would fail (or, with a server up, write into the user's collection and records).
    user = seeded.settings.with_overrides(store="server", chroma_port=9, records_url=f"sqlite:///{tmp_path / 'r.db'}")
    report = run_eval(path, settings=user)
    metrics = report.metrics()
    assert report.chunks > 0 and metrics["answer_hit_rate"] == 1.0
    assert [a.id for a in seeded.articles()] == before
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize(
    "content, says",
    [
        ("", "holds no questions"),
        ("not json\n", "not JSON lines"),
        ('{"title": "x", "article_text": "y"}\n', "not in a known question format"),
        ('[1, 2]\n', "not in a known question format"),
    ],
)
def test_broken_question_files_are_clear_errors(tmp_path, content, says):
    with pytest.raises(RagError, match=says):
        load_file(write(tmp_path / "q.jsonl", content))
    with pytest.raises(RagError, match="is a folder"):
        load_file(tmp_path)
