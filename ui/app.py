"""The Gradio chat: answers stream in, `[n]` links to a sources panel, articles can be added and removed.

`build_app(assistant)` returns the Blocks without launching it (the HTTP API mounts it at `/`);
`main()` launches it alone. The logic lives in `ui.handlers` as plain functions.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from ui import handlers  # noqa: E402

CSS = """
.sources { font-size: 0.95rem; line-height: 1.5; }
.source-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; margin: 8px 0; }
.source-card:target { border-color: #0969da; box-shadow: 0 0 0 2px #0969da33; }
.source-card.nearest { border-style: dashed; opacity: 0.9; }
.source-n { color: #0969da; font-weight: 700; }
.source-body mark { background: #fff3b0; padding: 0 2px; }
.source-body strong { text-decoration: underline; }
.source-meta { color: #57606a; font-size: 0.8rem; margin-top: 6px; word-break: break-all; }
.refused-note { color: #9a6700; }
.sources-empty { color: #57606a; }
.source-question { color: #57606a; font-style: italic; margin: 0 0 4px; }
.earlier { margin-top: 18px; border-top: 1px solid #d0d7de; opacity: 0.85; }
"""


def build_app(assistant) -> gr.Blocks:
    """The chat page for `assistant` (not launched)."""
    max_upload = assistant.settings.max_upload_bytes

    with gr.Blocks(title="article-chat") as app:
        gr.Markdown("## article-chat\nAsk about the indexed news articles. Every answer cites the sentence that says it.")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    scope = gr.Dropdown(
                        choices=handlers.scope_choices(assistant), value=handlers.ALL_ARTICLES,
                        label="Ask about", interactive=True, elem_id="scope",
                    )
                    chat = gr.Chatbot(label="Chat", height=460, elem_id="chat", sanitize_html=True)
                    question = gr.Textbox(
                        placeholder="Ask a question, e.g. Who represented the US?", show_label=False,
                        elem_id="question", max_lines=4,
                    )
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("New chat", elem_id="new-chat")
                    gr.Examples(examples=[[q] for q in handlers.EXAMPLES], inputs=[question], label="Examples")
                with gr.Column(scale=2):
                    sources = gr.HTML(handlers.sources_html(assistant, None), elem_id="sources")

        with gr.Tab("Articles"):
            table = gr.Dataframe(
                value=handlers.article_rows(assistant), headers=handlers.ARTICLE_COLUMNS,
                interactive=False, elem_id="articles",
            )
            status = gr.Markdown(elem_id="index-status")
            with gr.Row():
                with gr.Column():
                    upload = gr.File(
                        label=f"Upload an article (.txt, .md, .html, .pdf; up to {max_upload // 1_000_000} MB)",
                        file_types=[".txt", ".md", ".markdown", ".html", ".htm", ".pdf"], type="filepath",
                        elem_id="upload",
                    )
                    upload_btn = gr.Button("Index file", elem_id="index-file")
                with gr.Column():
                    pasted_title = gr.Textbox(label="Title (optional)")
                    pasted = gr.Textbox(label="…or paste the article text", lines=5)
                    paste_btn = gr.Button("Index text")
                with gr.Column():
                    url = gr.Textbox(label="…or an http(s) URL", elem_id="url")
                    url_btn = gr.Button("Fetch and index", elem_id="fetch-url")
            with gr.Row():
                chosen = gr.Dropdown(
                    choices=handlers.scope_choices(assistant)[1:], label="Article", interactive=True, elem_id="chosen",
                )
                reindex_btn = gr.Button("Re-index", elem_id="reindex")
                remove_btn = gr.Button("Remove", variant="stop")

        # --- events -----------------------------------------------------------------------------
        earlier = gr.State([])  # the sources panels of this chat's earlier answers, newest first

        def ask(message, history, scope_value, earlier_panels):
            if not message or not message.strip():
                yield history, gr.update(), "", earlier_panels  # nothing asked: the panel stays
                return
            shown = None
            for messages, panel in handlers.respond(assistant, message.strip(), history, scope_value):
                # While the answer streams, the panel is sent only when it changes.
                yield messages, (handlers.with_earlier(panel, earlier_panels) if panel != shown else gr.update()), "", earlier_panels
                shown = panel
            if shown is not None and shown != handlers.sources_html(assistant, None):  # an answer, not an error
                yield messages, gr.update(), "", [shown, *earlier_panels][: handlers.EARLIER_KEPT]

        send.click(ask, [question, chat, scope, earlier], [chat, sources, question, earlier])
        question.submit(ask, [question, chat, scope, earlier], [chat, sources, question, earlier])
        clear.click(lambda: ([], handlers.sources_html(assistant, None), "", []), None, [chat, sources, question, earlier])

        def refreshed(message, scope_value=None, chosen_value=None):
            scopes, scope_value, articles, chosen_value = handlers.refresh_choices(assistant, scope_value, chosen_value)
            return (
                message,
                handlers.article_rows(assistant),
                gr.update(choices=scopes, value=scope_value),
                gr.update(choices=articles, value=chosen_value),
            )

        outputs = [status, table, scope, chosen]

        def do_upload(path, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Indexing the file…")
            return refreshed(handlers.add_upload(assistant, path), scope_value, chosen_value)

        def do_paste(text, title, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Indexing the text…")
            return refreshed(handlers.add_text(assistant, text, title), scope_value, chosen_value)

        def do_url(address, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Fetching and indexing…")
            return refreshed(handlers.add_url(assistant, address), scope_value, chosen_value)

        upload_btn.click(do_upload, [upload, scope, chosen], outputs)
        paste_btn.click(do_paste, [pasted, pasted_title, scope, chosen], outputs)
        url_btn.click(do_url, [url, scope, chosen], outputs)
        reindex_btn.click(lambda a, s: refreshed(handlers.reindex(assistant, a), s, a), [chosen, scope], outputs)
        remove_btn.click(lambda a, s: refreshed(handlers.remove(assistant, a), s, a), [chosen, scope], outputs)
        # On page load only the lists are refreshed: a message the user is already reading stays.
        app.load(lambda s, a: refreshed(gr.update(), s, a), [scope, chosen], outputs)

    return app


def theme() -> gr.themes.Base:
    """System fonts only: no web fonts are fetched, so the page works with no network."""
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def ui_auth(settings) -> tuple[str, str] | None:
    """`RAG_UI_AUTH=user:password` as Gradio's login, or None (no login)."""
    if not settings.ui_auth:
        return None
    user, sep, password = settings.ui_auth_value.partition(":")
    if not (sep and user and password):
        from rag.errors import RagError

        raise RagError("RAG_UI_AUTH must look like 'user:password': fix it, or unset it to serve without a login.")
    return user, password


def mount(app, assistant) -> bool:
    """Mount the chat for `assistant` at / of a FastAPI app (after every API route, which it would
    shadow). `rag serve` passes this to `rag.http.app.create_app`."""
    import gradio as gr

    gr.mount_gradio_app(
        app,
        build_app(assistant),
        path="/",
        auth=ui_auth(assistant.settings),
        max_file_size=assistant.settings.max_upload_bytes,
        theme=theme(),
        css=CSS,
    )
    return True


def main() -> None:
    """Launch the chat alone on 127.0.0.1 (`rag serve` also serves the HTTP API)."""
    from rag.assistant import Assistant

    assistant = Assistant()
    assistant.warm_up()
    app = build_app(assistant)
    settings = assistant.settings
    app.queue().launch(
        server_name=settings.host, server_port=settings.port, theme=theme(), css=CSS,
        auth=ui_auth(settings), max_file_size=settings.max_upload_bytes,
    )


if __name__ == "__main__":
    main()
