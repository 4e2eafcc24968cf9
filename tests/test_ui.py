"""The chat page's handlers: what each component shows, escaped, with clear messages for errors."""

import re

from rag.types import Answer
from ui import handlers
from ui.app import build_app


def _final(seeded, question, history=None, scope=handlers.ALL_ARTICLES):
    *_, (messages, panel) = handlers.respond(seeded, question, history or [], scope)
    return messages, panel


def test_an_answer_streams_and_links_its_markers_to_source_cards(seeded):
    steps = list(handlers.respond(seeded, "Who represented the US?", [], handlers.ALL_ARTICLES))
    assert len(steps) > 2, "the answer arrives in pieces"
    messages, panel = steps[-1]
    assert messages[0] == {"role": "user", "content": "Who represented the US?"}
    reply = messages[-1]["content"]
    assert "deputy secretary of state" in reply
    assert "[[1]](#source-1-1)" in reply
    assert "id='source-1-1'" in panel
    # The cited sentence is marked in its article, the answer inside it in bold.
    assert re.search(r"<mark>[^<]*<strong>a deputy secretary of state</strong>[^<]*</mark>", panel)
    assert "Paris summit on Ukraine" in panel


def test_a_refusal_looks_different_and_shows_nearest_passages(seeded):
    messages, panel = _final(seeded, "What is the capital of Australia?")
    assert messages[-1]["content"].startswith("⚠️ *Not answered.*")
    assert "Nearest passages (not cited)" in panel
    assert "<mark>" not in panel


def test_follow_ups_use_the_chat_history(seeded):
    messages, _ = _final(seeded, "Who represented the US?")
    messages, _ = _final(seeded, "And Italy?", history=messages)
    assert "Searched for: “Who represented Italy?”" in messages[-1]["content"]


def test_follow_ups_read_the_history_as_gradio_hands_it_back(seeded):
    """Gradio 6 returns the Chatbot's messages with `content` as a list of text parts."""
    import gradio as gr

    messages, _ = _final(seeded, "Who represented the US?")
    chatbot = gr.Chatbot()
    round_trip = chatbot.preprocess(chatbot.postprocess(messages))
    assert not isinstance(round_trip[0]["content"], str)
    follow_up, _ = _final(seeded, "And Italy?", history=round_trip)
    assert "Searched for: “Who represented Italy?”" in follow_up[-1]["content"]
    second, _ = _final(seeded, "What did Macron say about a consensus on ground troops?", history=round_trip)
    assert "(#source-2-1)" in second[-1]["content"]  # the chat's second answer links to its own cards


def test_article_html_is_escaped_everywhere(assistant):
    assistant.index_text(
        "<script>alert(1)</script> The cat sat on the mat in the <b>old</b> barn.", title="<i>Cats</i>"
    )
    messages, panel = _final(assistant, "Where did the cat sit?")
    assert "<script>" not in panel and "<script>" not in messages[-1]["content"]
    assert "&lt;script&gt;" in panel
    assert "&lt;i&gt;Cats&lt;/i&gt;" in panel
    assert "<b>old</b>" not in panel


def test_errors_are_messages_not_stack_traces(seeded):
    messages, _ = _final(seeded, "Who?", scope="no-such-article")
    reply = messages[-1]["content"]
    assert reply.startswith("⚠️") and "No article 'no-such-article'" in reply
    assert "Traceback" not in reply


def test_upload_over_the_limit_is_refused_and_changes_nothing(seeded, tmp_path):
    before = handlers.article_rows(seeded)
    big = tmp_path / "big.txt"
    big.write_text("Words. " * 1000)
    seeded.settings = seeded.settings.model_copy(update={"max_upload_bytes": 100})
    message = handlers.add_upload(seeded, str(big))
    assert "upload limit" in message and "nothing was indexed" in message
    assert handlers.article_rows(seeded) == before


def test_add_upload_paste_and_url_report_clearly(seeded, tmp_path):
    story = tmp_path / "harbour.txt"
    story.write_text("The harbour of Brest reopened on Tuesday after two years of repairs.")
    assert "1 added" in handlers.add_upload(seeded, str(story))
    assert "1 added" in handlers.add_text(seeded, "The tram line opens in May.", "Tram")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02")
    assert "binary" in handlers.add_upload(seeded, str(binary))
    assert "http:// or https://" in handlers.add_url(seeded, "ftp://example.com/x")
    assert "Paste the article text first" in handlers.add_text(seeded, "  ", None)
    ids = [row[0] for row in handlers.article_rows(seeded)]
    assert {"harbour", "tram", "paris-summit-on-ukraine"} <= set(ids)
    assert handlers.scope_choices(seeded)[0] == handlers.ALL_ARTICLES


def test_remove_and_reindex_update_the_table(seeded):
    assert "1 skipped" in handlers.reindex(seeded, "paris-summit-on-ukraine")
    assert "Removed paris-summit-on-ukraine" in handlers.remove(seeded, "paris-summit-on-ukraine")
    assert handlers.article_rows(seeded) == []
    assert "No article" in handlers.remove(seeded, "paris-summit-on-ukraine")


def test_sources_panel_placeholders():
    answer = Answer(question="q", text="x", refused=True)
    assert "No passages" in handlers.sources_html(None, answer)
    assert "appear here" in handlers.sources_html(None, None)


def test_build_app_makes_blocks_without_launching(seeded):
    import gradio as gr

    app = build_app(seeded)
    assert isinstance(app, gr.Blocks)
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"chat", "question", "ask", "new-chat", "sources", "scope", "articles", "upload"} <= ids
    assert getattr(app, "local_url", None) is None  # built, not launched: `rag serve` mounts it


def test_each_answer_links_to_its_own_cards(seeded):
    first, panel1 = _final(seeded, "Who represented the US?")
    second, panel2 = _final(seeded, "What did Macron say about a consensus on ground troops?", history=first)
    assert "(#source-1-1)" in first[-1]["content"] and "(#source-2-1)" in second[-1]["content"]
    assert "id='source-2-1'" in panel2 and "id='source-1-1'" in panel1
    both = handlers.with_earlier(panel2, [panel1])
    assert both.index("id='source-2-1'") < both.index("Earlier answers") < both.index("id='source-1-1'")
    assert "deputy secretary of state" in both[both.index("Earlier answers") :]


def test_removing_the_scoped_article_falls_back_to_all_articles(seeded):
    seeded.index_text("The tram line opens in May.", title="Tram")
    scopes, scope, articles, chosen = handlers.refresh_choices(seeded, "tram", "tram")
    assert (scope, chosen) == ("tram", "tram") and "tram" in articles
    handlers.remove(seeded, "tram")
    scopes, scope, articles, chosen = handlers.refresh_choices(seeded, "tram", "tram")
    assert scope == handlers.ALL_ARTICLES and chosen is None and "tram" not in scopes
    messages, _ = _final(seeded, "When does the tram open?", scope="tram")
    assert messages[-1]["content"].startswith("⚠️") and "No article 'tram'" in messages[-1]["content"]


def test_quoted_markdown_in_an_article_stays_text(assistant):
    assistant.index_text(
        "# Flood in Zeeland\n\nThe dike near Kruiningen broke on Sunday ![x](http://example.com/p.png) at dawn.",
        title="Flood",
    )
    messages, _ = _final(assistant, "When did the dike near Kruiningen break?")
    reply = messages[-1]["content"]
    assert "Kruiningen" in reply
    assert "![x](" not in reply and "!\\[x\\](" in reply
