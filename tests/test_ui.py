"""The chat page's handlers: what each component shows, escaped, with clear messages for errors."""

import re

from rag.types import Answer
from ui import handlers
from ui.app import build_app


def _final(seeded, question, turns=None, scope=handlers.ALL_ARTICLES):
    *_, (turns, messages, panel) = handlers.respond(seeded, question, turns or [], scope)
    return turns, messages, panel


def test_an_answer_streams_and_links_its_markers_to_the_article(seeded):
    steps = list(handlers.respond(seeded, "Who represented the US?", [], handlers.ALL_ARTICLES))
    assert len(steps) > 2, "the answer arrives in pieces"
    assert all(panel is None for _, _, panel in steps[:-1]), "the panel waits for the answer"
    turns, messages, panel = steps[-1]
    assert messages[0] == {"role": "user", "content": "Who represented the US?"}
    reply = messages[-1]["content"]
    answer = turns[-1].answer
    assert "deputy secretary of state" in reply
    assert "[[1]](#source-1-1)" in reply and "(#sources-1)" in reply
    # The short answer leads the reply in bold, with its citation.
    assert answer.short_answer is not None and reply.startswith(f"**{answer.short_answer.text}** [[")
    assert "Asked about: All articles" in reply
    assert "id='source-1-1'" in panel and "data-turn='1'" in panel
    # The cited sentence is marked in its article, the short answer inside it in bold.
    span = re.escape(answer.short_answer.text)
    assert re.search(rf"<mark class='cited'>[^<]*<strong class='answer-span'>{span}</strong>[^<]*</mark>", panel)
    assert "Paris summit on Ukraine" in panel


def test_every_answers_citation_opens_its_whole_article_after_many_answers(seeded):
    turns = []
    for question in ["Who represented the US?"] + ["What did Macron say about ground troops?"] * 11:
        turns, _, _ = _final(seeded, question, turns)
    assert len(turns) == 12
    panel, viewer, turn = handlers.pick(seeded, "cite:1:1:7", turns)
    assert turn == 1 and "data-turn='1'" in panel and "source-card selected" in panel
    text = seeded.article("paris-summit-on-ukraine").text
    c = turns[0].answer.citations[0]
    assert viewer.count("<mark class='cited'>") == 1
    assert "Paris summit on Ukraine</b>" in viewer  # the whole article, its heading as text
    assert "# Paris summit" not in viewer
    inside = re.search(r"<mark class='cited'>(.*?)</mark>", viewer).group(1)
    assert re.sub(r"<[^>]+>", "", inside) == c.quote
    short = turns[0].answer.short_answer
    assert short is not None and short.n == c.n
    assert f"<strong class='answer-span'>{short.text}</strong>" in inside
    assert len(re.sub(r"<[^>]+>", "", viewer)) > 0.9 * len(text)  # the whole article, not a window
    # Showing an answer's sources closes the viewer; nonsense picks change nothing.
    assert handlers.pick(seeded, "show:12:3", turns)[1:] == ("", 12)
    assert handlers.pick(seeded, "cite:99:1", turns) == (None, "", None)
    assert handlers.pick(seeded, "close:4", turns) == (None, "", None)
    # Clicking a message selects its turn (two messages per turn).
    panel, turn = handlers.select_turn(seeded, turns, 1)
    assert turn == 1 and "data-turn='1'" in panel
    assert handlers.select_turn(seeded, turns, 99) == (None, None)


def test_a_refusal_looks_different_and_repeats_the_question_as_typed(seeded):
    _, messages, panel = _final(seeded, "What is the capital of **Australia** <img src=x>?")
    reply = messages[-1]["content"]
    assert reply.startswith("⚠️ *Not answered.*")
    assert "\\*\\*Australia\\*\\*" in reply and "\\<img" in reply and "<img" not in reply.replace("\\<img", "")
    assert "Nearest passages (not cited)" in panel and "<mark" not in panel


def test_the_question_is_shown_as_typed_and_can_be_edited_back():
    for typed in ["<img src=x> and **bold**", "# Not a heading\n- nor a list\n1. nor this", "Cost in $ and 5 * 3?"]:
        shown = handlers.user_markdown(typed)
        assert handlers.typed_question(shown) == typed
        assert "<img" not in shown.replace("\\<", "") and "**" not in shown and not shown.startswith("#")
    assert handlers.user_markdown("Who represented the US?") == "Who represented the US?"


def test_follow_ups_use_the_chat_and_searched_for_shows_only_when_different(seeded):
    turns, messages, _ = _final(seeded, "Who represented the US?")
    assert "Searched for" not in messages[-1]["content"]
    turns, messages, _ = _final(seeded, "And Italy?", turns)
    assert "Searched for: “Who represented Italy?”" in messages[-1]["content"]
    assert handlers.history_of(turns)[0] == {"role": "user", "content": "Who represented the US?"}


def test_a_long_question_does_not_bury_the_answer(seeded):
    question = "Who represented the US? " + "Please tell me, with context and detail, " * 40
    assert len(question) > 1_600
    turns, messages, _ = _final(seeded, question)
    reply = messages[-1]["content"]
    note = re.search(r"<sub>(.*?)</sub>", reply).group(1)
    assert len(note) < 250, "the search note is shortened"
    assert "…" in note or "Searched for" not in note


def test_article_html_is_escaped_everywhere(assistant):
    assistant.index_text(
        "<script>alert(1)</script> The cat sat on the mat in the <b>old</b> barn.", title="<i>Cats</i>"
    )
    turns, messages, panel = _final(assistant, "Where did the cat sit?")
    assert "<script>" not in panel and "<script>" not in messages[-1]["content"]
    assert "&lt;script&gt;" in panel
    assert "&lt;i&gt;Cats&lt;/i&gt;" in panel
    assert "<b>old</b>" not in panel
    from rag.types import Citation

    article_id = assistant.articles()[0].id
    text = assistant.article(article_id).text
    start = text.index("The cat")
    cited = Answer(question="q", text="x [1]", citations=[Citation(
        n=1, article_id=article_id, title="<i>Cats</i>", source="pasted", chunk_id="c", quote=text[start:],
        start=start, end=len(text), score=1.0)])
    viewer = handlers.viewer_html(assistant, cited, 1, 1)
    assert "&lt;i&gt;Cats&lt;/i&gt;" in viewer and "&lt;script&gt;" in viewer and "<script>" not in viewer and "<b>old</b>" not in viewer


def test_article_context_shows_text_not_markdown_syntax():
    text = "# Flood in Zeeland\n\nThe dike **near** [Kruiningen](http://x.org) broke on Sunday.\n\n- One\n"
    start = text.index("The dike")
    out = handlers.article_html(text, start, text.index("Sunday.") + 7, None, None, window=200)
    assert "#" not in out and "**" not in out and "](" not in out
    assert "<b class='md-heading'>Flood in Zeeland</b>" in out and "• One" in out
    assert "<mark class='cited'>The dike near Kruiningen broke on Sunday.</mark>" in out


def test_errors_are_messages_not_stack_traces(seeded):
    _, messages, _ = _final(seeded, "Who?", scope="no-such-article")
    reply = messages[-1]["content"]
    assert reply.startswith("⚠️") and "No article 'no-such-article'" in reply
    assert "Traceback" not in reply


def test_messages_never_name_server_settings(seeded, tmp_path):
    before = handlers.article_rows(seeded)
    big = tmp_path / "big.txt"
    big.write_text("Words. " * 1000)
    ok, message = handlers.add_upload(seeded, str(big), max_bytes=100)
    assert not ok and "upload limit" in message and "nothing was indexed" in message
    assert handlers.article_rows(seeded) == before
    private = ("Refusing to fetch 'http://10.0.0.1/': it resolves to the non-public address 10.0.0.1. "
               "Set RAG_ALLOW_PRIVATE_URLS=true to allow it.")
    assert handlers.plain_words(private) == "Refusing to fetch 'http://10.0.0.1/': it resolves to the non-public address 10.0.0.1."
    assert handlers.plain_words("'a.txt' is 9 bytes, over the 5-byte limit (RAG_MAX_ARTICLE_BYTES).") == \
        "'a.txt' is 9 bytes, over the 5-byte limit."
    ok, message = handlers.add_url(seeded, "http://127.0.0.1:9/story")
    assert not ok and "RAG_" not in message and "non-public address" in message


def test_add_upload_paste_and_url_report_in_plain_words(seeded, tmp_path):
    story = tmp_path / "harbour.txt"
    story.write_text("Brest harbour reopens\n\nThe harbour of Brest reopened on Tuesday after two years of repairs.")
    ok, message = handlers.add_upload(seeded, str(story), max_bytes=10**6)
    assert ok and message == "Added “Brest harbour reopens” (1 passage)."
    ok, message = handlers.add_text(seeded, "Riverton Solar Farm opens\n\nThe farm opened on Monday.", None, 10**6)
    assert ok and message == "Added “Riverton Solar Farm opens” (1 passage)."
    assert "riverton-solar-farm-opens" in [row[0] for row in handlers.article_rows(seeded)]
    ok, message = handlers.add_text(seeded, "Riverton Solar Farm opens\n\nThe farm opened on Monday.", None, 10**6)
    assert ok and "already indexed and unchanged" in message
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02")
    assert "binary" in handlers.add_upload(seeded, str(binary), max_bytes=10**6)[1]
    assert "http:// or https://" in handlers.add_url(seeded, "ftp://example.com/x")[1]
    assert handlers.add_text(seeded, "  ", None, max_bytes=10**6) == (False, "Paste the article text first.")
    assert handlers.scope_choices(seeded)[0] == handlers.ALL_ARTICLES


def test_pasted_text_keeps_its_capitals_and_gets_a_short_id(assistant):
    long_line = ("The City Council of Riverton voted on Tuesday to approve the new solar farm north of the "
                 "river, after a debate that lasted well into the night.")
    assistant.index_text(long_line + " Work starts in May.")
    info = assistant.articles()[0]
    assert info.title.startswith("The City Council of Riverton") and len(info.title) <= 61
    assert info.id == "the-city-council-of-riverton-voted"  # six words at most
    from rag.ingest import headline_title

    assert headline_title("Riverton solar farm opens\n\nThe farm opened.") == "Riverton solar farm opens"
    assert headline_title("The farm opened on Monday.\nIt is big.") is None  # a sentence, not a headline
    assert headline_title("Riverton solar farm opens") is None  # the whole text is no headline


def test_removal_names_the_article_and_its_chunks_first(seeded):
    question = handlers.removal_question(seeded, "paris-summit-on-ukraine")
    chunks = seeded.articles()[0].chunk_count
    assert "“Paris summit on Ukraine”" in question and f"{chunks} chunks" in question
    assert "cannot be undone" in question
    assert handlers.removal_question(seeded, None) is None
    assert handlers.article_rows(seeded), "asking removed nothing"
    assert handlers.reindex(seeded, "paris-summit-on-ukraine") == (
        True, "“Paris summit on Ukraine” (%d passages) is already indexed and unchanged." % chunks)
    ok, message = handlers.remove(seeded, "paris-summit-on-ukraine")
    assert ok and message == f"Removed “Paris summit on Ukraine” ({chunks} passages)."
    assert handlers.article_rows(seeded) == []
    assert "No article" in handlers.remove(seeded, "paris-summit-on-ukraine")[1]


def test_sources_panel_placeholders():
    answer = Answer(question="q", text="x", refused=True)
    assert "No passages" in handlers.sources_html(None, answer)
    assert "appear here" in handlers.sources_html(None, None)


def test_build_app_makes_blocks_without_launching(seeded):
    import gradio as gr

    app = build_app(seeded)
    assert isinstance(app, gr.Blocks)
    blocks = {getattr(block, "elem_id", None): block for block in app.blocks.values()}
    assert {"chat", "question", "ask", "new-chat", "sources", "viewer", "scope", "articles", "upload",
            "pick", "copy-md", "download-md", "confirm-remove", "remove"} <= set(blocks)
    assert blocks["chosen"].value is None, "no article is chosen until the user chooses one"
    assert getattr(app, "local_url", None) is None  # built, not launched: `rag serve` mounts it


def test_removing_the_scoped_article_falls_back_to_all_articles(seeded):
    seeded.index_text("The tram line opens in May.", title="Tram")
    scopes, scope, articles, chosen = handlers.refresh_choices(seeded, "tram", "tram")
    assert (scope, chosen) == ("tram", "tram") and "tram" in articles
    handlers.remove(seeded, "tram")
    scopes, scope, articles, chosen = handlers.refresh_choices(seeded, "tram", "tram")
    assert scope == handlers.ALL_ARTICLES and chosen is None and "tram" not in scopes
    _, messages, _ = _final(seeded, "When does the tram open?", scope="tram")
    assert messages[-1]["content"].startswith("⚠️") and "No article 'tram'" in messages[-1]["content"]


def test_the_scope_is_shown_on_each_answer_and_examples_fit_it(seeded):
    seeded.index_text("The tram line opens in May.", title="Tram")
    _, messages, _ = _final(seeded, "When does the tram line open?", scope="tram")
    assert "Asked about: “Tram”" in messages[-1]["content"]
    assert handlers.examples_for(seeded, "paris-summit-on-ukraine") == handlers.EXAMPLES["paris-summit-on-ukraine"]
    assert handlers.examples_for(seeded, handlers.ALL_ARTICLES) == handlers.EXAMPLES["paris-summit-on-ukraine"]
    assert handlers.examples_for(seeded, "tram") == []
    seeded.remove("paris-summit-on-ukraine")
    assert handlers.examples_for(seeded, handlers.ALL_ARTICLES) == []


def test_the_conversation_exports_as_markdown_with_its_quotes(seeded):
    turns, _, _ = _final(seeded, "Who represented the US?")
    turns, _, _ = _final(seeded, "What is the capital of Australia?", turns)
    markdown = handlers.conversation_markdown(turns)
    c = turns[0].answer.citations[0]
    assert "## 1. Who represented the US?" in markdown and "*Asked about: All articles*" in markdown
    assert f"> [1] “{' '.join(c.quote.split())}”" in markdown
    assert "Paris summit on Ukraine (`paris-summit-on-ukraine`" in markdown
    assert "**Not answered.**" in markdown and "Nearest passages (not cited)" in markdown


def test_quoted_markdown_in_an_article_stays_text(assistant):
    assistant.index_text(
        "# Flood in Zeeland\n\nThe dike near Kruiningen broke on Sunday ![x](http://example.com/p.png) at dawn.",
        title="Flood",
    )
    _, messages, _ = _final(assistant, "When did the dike near Kruiningen break?")
    reply = messages[-1]["content"]
    assert "Kruiningen" in reply
    assert "![x](" not in reply and "!\\[x\\](" in reply


def test_a_sessions_markdown_file_goes_when_its_tab_closes(seeded):
    from pathlib import Path
    from types import SimpleNamespace

    app = build_app(seeded)
    folder = Path(app.exports_dir.name)
    handlers_by_name = {fn.fn.__name__: fn.fn for fn in app.fns.values() if fn.fn is not None}
    request = SimpleNamespace(session_hash="tab-1")
    for _ in handlers_by_name["ask"]("Who represented the US?", [], handlers.ALL_ARTICLES, request):
        pass
    path = folder / "conversation-tab-1.md"
    assert "## 1. Who represented the US?" in path.read_text(encoding="utf-8")
    handlers_by_name["forget_export"](request)  # the tab closed (Gradio's unload event)
    assert not path.exists() and folder.is_dir()


def test_the_export_folder_goes_when_the_server_shuts_down(seeded, monkeypatch):
    """uvicorn ends a SIGTERM'd server by raising the signal again, so no exit-time cleanup runs:
    the folder is removed by the app's own shutdown."""
    from pathlib import Path

    from fastapi.testclient import TestClient

    import ui.app
    from rag.http.app import create_app

    built = []
    real = ui.app.build_app
    monkeypatch.setattr(ui.app, "build_app", lambda assistant: built.append(real(assistant)) or built[-1])
    app = create_app(seeded, ui=ui.app.mount)
    with TestClient(app) as client:  # runs the app's lifespan: startup here, shutdown on leaving
        assert client.get("/healthz").status_code == 200
        folder = Path(built[0].exports_dir.name)
        assert folder.is_dir()
    assert not folder.exists()


def test_the_export_folder_goes_when_the_server_process_ends(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from rag.assistant import Assistant\n"
        "from rag.config import Settings\n"
        "from ui.app import build_app\n"
        f"settings = Settings(_env_file=None, index_dir={str(tmp_path / 'index')!r}, embedding_backend='fake')\n"
        "app = build_app(Assistant(settings))\n"
        "print(app.exports_dir.name)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.name.startswith("article-chat-exports-") and not folder.exists()
