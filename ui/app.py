"""The Gradio chat: answers stream in, `[n]` opens its article beside the chat, articles can be added and removed.

`build_app(assistant)` returns the Blocks without launching it (the HTTP API mounts it at `/`);
`main()` launches it alone. The logic lives in `ui.handlers` as plain functions; this module
lays out the page and wires its events.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from ui import handlers  # noqa: E402

# Colours: light values here, `.dark` ones below (Gradio puts `.dark` on the page when the system
# asks for a dark scheme). Marks set both text and background, so they read in either scheme
# (WCAG AA, 4.5:1; tests/test_ui_browser.py measures it on the page).
CSS = """
.sources { font-size: 0.95rem; line-height: 1.5; }
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin: 8px 0; }
.source-card.selected { border-color: #0969da; box-shadow: 0 0 0 2px #0969da55; }
.source-card.nearest { border-style: dashed; }
#side a { color: var(--link-text-color); font-weight: 700; text-decoration: none; }
mark.cited { background: #fff3b0; color: #1f2328; padding: 0 2px; border-radius: 2px; }
strong.answer-span { color: #1f2328; text-decoration: underline; text-underline-offset: 2px; }
b.md-heading { font-size: 1.05em; }
.source-meta { color: var(--body-text-color-subdued); font-size: 0.8rem; margin-top: 6px; word-break: break-all; }
.refused-note { color: #7d4e00; }
.sources-empty, .source-question { color: var(--body-text-color-subdued); }
.source-question { font-style: italic; margin: 0 0 4px; }
.viewer { border: 1px solid var(--border-color-primary); border-radius: 8px; }
.viewer-head { padding: 8px 12px; border-bottom: 1px solid var(--border-color-primary); }
.viewer-close { float: right; }
.viewer-text { position: relative; max-height: 55vh; overflow-y: auto; padding: 10px 12px; line-height: 1.6; }
.dark mark.cited { background: #4d3800; color: #fff4d1; }
.dark strong.answer-span { color: #fff4d1; }
.dark .refused-note { color: #f2cc60; }
.dark .source-card.selected { border-color: #79c0ff; box-shadow: 0 0 0 2px #79c0ff55; }
/* A long question scrolls inside its bubble instead of pushing the answer off the screen. */
#chat .message-row.user-row .message-content, #chat .user-row .prose { max-height: 9.5em; overflow-y: auto; }
#side { position: sticky; top: 8px; align-self: flex-start; max-height: calc(100vh - 16px); overflow-y: auto; }
#drawer-close { display: none; }
#viewer:not(:has(.viewer)) { display: none; }  /* no empty box before an article is opened */
@media (max-width: 820px) {
  /* On a phone the sources are a drawer that the answer's [n] or "sources" link opens. */
  #side { position: fixed; left: 0; right: 0; bottom: 0; top: auto; max-height: 85vh; z-index: 2147483000;
          background: var(--background-fill-primary); border-top: 2px solid var(--border-color-primary);
          box-shadow: 0 -6px 24px #0005; padding: 8px 12px; transform: translateY(110%);
          transition: transform 0.2s ease; visibility: hidden; }
  #side[data-open] { transform: none; visibility: visible; }
  #drawer-close { display: block; }
  .drawer-close { display: block; text-align: right; font-weight: 700; padding: 4px 0; }
  .viewer-text { max-height: 58vh; }
}
"""

# Installed once on page load: clicks on `[n]` and on an answer's "sources" link go to the
# server through the hidden #pick box (and never scroll the page, which an anchor would do).
CLICKS_JS = """
() => {
  if (window.__articleChatClicks) return;
  window.__articleChatClicks = true;
  let seq = 0;
  // An attribute, not a class: Gradio rewrites the column's classes, and prefixes every selector
  // of our CSS (so `body.x #side` could never match).
  const drawer = (open) => {
    const side = document.querySelector('#side');
    if (side) open ? side.setAttribute('data-open', '') : side.removeAttribute('data-open');
  };
  // Now and then something in Gradio's update of the page scrolls it to the top after such a click
  // (seen on phones). The reader's place is held until the server's update has been drawn (the
  // side panel quiet for a moment; at most 10 s on a slow server), and let go at once when the
  // reader scrolls or types: a fixed second was too short when the reply came late.
  let release = null;
  const hold = (x, y) => {
    if (release) release();
    const started = performance.now();
    let quietSince = started, changed = false, done = false;
    const side = document.querySelector('#side');
    const seen = new MutationObserver(() => { changed = true; quietSince = performance.now(); });
    if (side) seen.observe(side, {childList: true, subtree: true, characterData: true});
    const mine = ['wheel', 'touchstart', 'keydown', 'mousedown'];
    const stop = () => {
      done = true;
      seen.disconnect();
      mine.forEach((e) => window.removeEventListener(e, stop, true));
      if (release === stop) release = null;
    };
    release = stop;
    mine.forEach((e) => window.addEventListener(e, stop, {capture: true, passive: true}));
    const keep = () => {
      if (done) return;
      if (window.scrollY !== y) window.scrollTo(x, y);
      const now = performance.now();
      if (now - started > 10000 || (changed && now - quietSince > 800)) return stop();
      requestAnimationFrame(keep);
    };
    requestAnimationFrame(keep);
  };
  const pick = (value) => {
    const box = document.querySelector('#pick textarea, #pick input');
    if (!box) return;
    box.value = value + ':' + (++seq);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('click', (ev) => {
    const link = ev.target.closest && ev.target.closest('a[href^="#"]');
    if (!link) return;
    const href = link.getAttribute('href');
    // The place before anything changes: the page has been seen to jump during the update below.
    const x = window.scrollX, y = window.scrollY;
    let m;
    if ((m = href.match(/^#source-(\\d+)-(\\d+)$/))) {
      pick('cite:' + m[1] + ':' + m[2]);
      drawer(true);
    } else if ((m = href.match(/^#sources-(\\d+)$/))) {
      pick('show:' + m[1]);
      drawer(true);
    } else if (href === '#close-viewer') {
      pick('close');
    } else if (href === '#close-drawer') {
      drawer(false);
    } else {
      return;
    }
    hold(x, y);
    ev.preventDefault();
    ev.stopPropagation();
  }, true);
}
"""

# The viewer scrolls itself (never the page or the chat) to the cited sentence.
VIEWER_JS = """
const toCited = () => {
  const box = element.querySelector('.viewer-text');
  const cited = element.querySelector('mark.cited');
  if (box && cited) box.scrollTop = Math.max(0, cited.offsetTop - box.clientHeight / 3);
};
watch('value', toCited);
toCited();
"""

COPY_JS = """
(markdown) => {
  if (markdown && navigator.clipboard) navigator.clipboard.writeText(markdown);
  return [];
}
"""


def build_app(assistant) -> gr.Blocks:
    """The chat page for `assistant` (not launched)."""
    max_upload = assistant.settings.max_upload_bytes
    # One Markdown file per browser session, deleted when its tab closes (`app.unload` below); the
    # folder goes when the app does. Gradio's own copies of served files are cleared hourly.
    exports_dir = tempfile.TemporaryDirectory(prefix="article-chat-exports-")
    exports = Path(exports_dir.name)

    def export_path(request: gr.Request | None) -> Path:
        name = (getattr(request, "session_hash", None) or "chat").replace("/", "")
        return exports / f"conversation-{name}.md"

    with gr.Blocks(title="article-chat", delete_cache=(3600, 3600)) as app:
        app.exports_dir = exports_dir
        gr.Markdown("## article-chat\nAsk about the indexed news articles. Every answer cites the sentence that says it.")
        turns = gr.State([])  # this chat's handlers.Turn list: every answer's sources stay reachable
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3, min_width=300):
                    scope = gr.Dropdown(
                        choices=handlers.scope_choices(assistant), value=handlers.ALL_ARTICLES,
                        label="Ask about", interactive=True, elem_id="scope",
                    )
                    chat = gr.Chatbot(
                        label="Chat", height=520, elem_id="chat", sanitize_html=True, editable="user",
                        buttons=["copy"], feedback_options=None, latex_delimiters=[],
                    )
                    question = gr.Textbox(
                        placeholder="Ask a question, e.g. Who represented the US?", show_label=False,
                        elem_id="question", max_lines=4,
                    )
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask", min_width=80)
                        clear = gr.Button("New chat", elem_id="new-chat", min_width=80)
                        copy_md = gr.Button("Copy as Markdown", elem_id="copy-md", size="sm", min_width=80)
                        download = gr.DownloadButton(
                            "Download .md", elem_id="download-md", size="sm", interactive=False, min_width=80,
                        )
                    first = handlers.examples_for(assistant, None)
                    examples = gr.Dataset(
                        components=[question], samples=[[q] for q in first], label="Examples",
                        elem_id="examples", visible=bool(first), type="values",
                    )
                with gr.Column(scale=2, min_width=300, elem_id="side"):
                    gr.HTML("<a class='drawer-close' href='#close-drawer'>Back to the chat ✕</a>", elem_id="drawer-close")
                    # The article viewer sits above the sources, so that it opens where the eye is.
                    viewer = gr.HTML("", elem_id="viewer", js_on_load=VIEWER_JS)
                    sources = gr.HTML(handlers.sources_html(assistant, None), elem_id="sources")
            pick = gr.Textbox(visible="hidden", elem_id="pick")
            export_md = gr.Textbox(visible="hidden", elem_id="export-md")

        with gr.Tab("Articles"):
            table = gr.Dataframe(
                value=handlers.article_rows(assistant), headers=handlers.ARTICLE_COLUMNS,
                interactive=False, elem_id="articles",
            )
            with gr.Row():
                with gr.Column():
                    upload = gr.File(
                        label=f"Upload an article (.txt, .md, .html, .pdf; up to {max_upload // 1_000_000} MB)",
                        file_types=[".txt", ".md", ".markdown", ".html", ".htm", ".pdf"], type="filepath",
                        elem_id="upload",
                    )
                    upload_btn = gr.Button("Index file", elem_id="index-file")
                    upload_status = gr.Markdown(elem_id="upload-status")
                with gr.Column():
                    pasted_title = gr.Textbox(label="Title (optional)", elem_id="pasted-title")
                    pasted = gr.Textbox(label="…or paste the article text", lines=5, elem_id="pasted")
                    paste_btn = gr.Button("Index text", elem_id="index-text")
                    paste_status = gr.Markdown(elem_id="paste-status")
                with gr.Column():
                    url = gr.Textbox(label="…or an http(s) URL", elem_id="url")
                    url_btn = gr.Button("Fetch and index", elem_id="fetch-url")
                    url_status = gr.Markdown(elem_id="url-status")
            with gr.Row():
                # Nothing is chosen until the user chooses: a button must never act on a default.
                chosen = gr.Dropdown(
                    choices=handlers.scope_choices(assistant)[1:], value=None, label="Article",
                    interactive=True, elem_id="chosen",
                )
                reindex_btn = gr.Button("Re-index", elem_id="reindex")
                remove_btn = gr.Button("Remove…", variant="stop", elem_id="remove")
            article_status = gr.Markdown(elem_id="article-status")
            pending = gr.State(None)  # the article the confirmation names
            with gr.Row(visible=False, elem_id="confirm-remove") as confirm_row:
                confirm_text = gr.Markdown(elem_id="confirm-text")
                confirm_btn = gr.Button("Yes, remove it", variant="stop", elem_id="confirm-yes")
                cancel_btn = gr.Button("Cancel", elem_id="confirm-no")

        # --- the chat -----------------------------------------------------------------------------
        chat_outputs = [chat, sources, question, turns, viewer, export_md, download]

        def export(turn_list, request: gr.Request | None):
            markdown = handlers.conversation_markdown(turn_list)
            path = export_path(request)
            path.write_text(markdown, encoding="utf-8")
            return markdown, gr.update(value=str(path), interactive=True)

        def answer(message, turn_list, scope_value, request):
            shown = False
            for turn_list, messages, panel in handlers.respond(assistant, message, turn_list, scope_value):
                if panel is None:  # still streaming: the panel and viewer wait for the answer
                    yield messages, gr.update(), "", turn_list, gr.update(), gr.update(), gr.update()
                else:
                    shown = True
                    yield (messages, panel, "", turn_list, "", *export(turn_list, request))
            if not shown:
                yield messages, gr.update(), "", turn_list, gr.update(), gr.update(), gr.update()

        def ask(message, turn_list, scope_value, request: gr.Request):
            if not message or not message.strip():
                yield (gr.update(),) * 2 + ("", turn_list) + (gr.update(),) * 3  # nothing asked
                return
            yield from answer(message.strip(), turn_list, scope_value, request)

        def retry(turn_list, request: gr.Request):
            """Ask the last question again, about what it was asked about."""
            if not turn_list:
                yield (gr.update(),) * 3 + (turn_list,) + (gr.update(),) * 3
                return
            last = turn_list[-1]
            yield from answer(last.question, turn_list[:-1], last.scope or handlers.ALL_ARTICLES, request)

        def edit(turn_list, edit_data: gr.EditData, request: gr.Request):
            """Send an edited question again: the chat from that question on is replaced."""
            index = edit_data.index[0] if isinstance(edit_data.index, (list, tuple)) else edit_data.index
            value = handlers.message_text(edit_data.value) or ""
            text = handlers.typed_question(value).strip()
            if not isinstance(index, int) or index // 2 >= len(turn_list) or not text:
                yield handlers.chat_messages(turn_list), *(gr.update(),) * 2, turn_list, *(gr.update(),) * 3
                return
            edited = turn_list[index // 2]
            yield from answer(text, turn_list[: index // 2], edited.scope or handlers.ALL_ARTICLES, request)

        def cleared():
            return [], handlers.sources_html(assistant, None), "", [], "", "", gr.update(value=None, interactive=False)

        send.click(ask, [question, turns, scope], chat_outputs)
        question.submit(ask, [question, turns, scope], chat_outputs)
        chat.retry(retry, [turns], chat_outputs)
        chat.edit(edit, [turns], chat_outputs)
        clear.click(cleared, None, chat_outputs)
        chat.clear(cleared, None, chat_outputs)  # the Chatbot's own trash icon clears the sources too

        def picked(value, turn_list):
            panel, shown, _ = handlers.pick(assistant, value, turn_list)
            return (gr.update() if panel is None else panel), shown

        pick.change(picked, [pick, turns], [sources, viewer], show_progress="hidden")

        def selected(turn_list, event: gr.SelectData):
            panel, _ = handlers.select_turn(assistant, turn_list, event.index)
            return (gr.update(), gr.update()) if panel is None else (panel, "")

        chat.select(selected, [turns], [sources, viewer], show_progress="hidden")
        copy_md.click(None, [export_md], None, js=COPY_JS)

        def scoped_examples(scope_value):
            found = handlers.examples_for(assistant, scope_value)
            return gr.update(samples=[[q] for q in found], visible=bool(found))

        scope.change(scoped_examples, [scope], [examples])
        examples.click(lambda sample: sample[0] if sample else "", [examples], [question])

        # --- the Articles tab ---------------------------------------------------------------------
        def refreshed(scope_value=None, chosen_value=None):
            scopes, scope_value, articles, chosen_value = handlers.refresh_choices(assistant, scope_value, chosen_value)
            return (
                handlers.article_rows(assistant),
                gr.update(choices=scopes, value=scope_value),
                gr.update(choices=articles, value=chosen_value),
                scoped_examples(scope_value),
            )

        lists = [table, scope, chosen, examples]

        def do_upload(path, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Indexing the file…")
            ok, message = handlers.add_upload(assistant, path, max_upload)
            return message, (None if ok else gr.update()), *refreshed(scope_value, chosen_value)

        def do_paste(text, title, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Indexing the text…")
            ok, message = handlers.add_text(assistant, text, title, max_upload)
            cleared_fields = ("", "") if ok else (gr.update(), gr.update())
            return message, *cleared_fields, *refreshed(scope_value, chosen_value)

        def do_url(address, scope_value, chosen_value, progress=gr.Progress()):
            progress(0.1, desc="Fetching and indexing…")
            ok, message = handlers.add_url(assistant, address)
            return message, ("" if ok else gr.update()), *refreshed(scope_value, chosen_value)

        upload_btn.click(do_upload, [upload, scope, chosen], [upload_status, upload, *lists])
        paste_btn.click(do_paste, [pasted, pasted_title, scope, chosen], [paste_status, pasted, pasted_title, *lists])
        url_btn.click(do_url, [url, scope, chosen], [url_status, url, *lists])

        def do_reindex(article_id, scope_value):
            return handlers.reindex(assistant, article_id)[1], *refreshed(scope_value, article_id)

        reindex_btn.click(do_reindex, [chosen, scope], [article_status, *lists])

        def ask_removal(article_id):
            prompt = handlers.removal_question(assistant, article_id)
            if prompt is None:
                return ("Choose an article to remove." if not article_id else handlers.remove(assistant, article_id)[1],
                        gr.update(visible=False), "", None)
            return "", gr.update(visible=True), prompt, article_id

        def do_remove(article_id, scope_value):
            message = handlers.remove(assistant, article_id)[1]
            return message, gr.update(visible=False), None, *refreshed(scope_value, None)

        confirm_outputs = [article_status, confirm_row, confirm_text, pending]
        remove_btn.click(ask_removal, [chosen], confirm_outputs)
        confirm_btn.click(do_remove, [pending, scope], [article_status, confirm_row, pending, *lists])
        cancel_btn.click(lambda: ("Nothing was removed.", gr.update(visible=False), None), None,
                         [article_status, confirm_row, pending])
        # Choosing another article withdraws a confirmation that names the previous one.
        chosen.change(lambda: (gr.update(visible=False), None), None, [confirm_row, pending])

        # On page load only the lists are refreshed: a message the user is already reading stays.
        app.load(refreshed, [scope, chosen], lists)
        app.load(None, None, None, js=CLICKS_JS)

        def forget_export(request: gr.Request):  # Gradio passes the request by this annotation
            export_path(request).unlink(missing_ok=True)

        app.unload(forget_export)

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
    import contextlib

    import gradio as gr

    blocks = build_app(assistant)
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=ui_auth(assistant.settings),
        max_file_size=assistant.settings.max_upload_bytes,
        theme=theme(),
        css=CSS,
    )
    # The export folder goes when the server shuts down: uvicorn ends a SIGTERM'd process by
    # raising the signal again once the app has shut down, so exit-time cleanup never runs.
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(server_app):
        try:
            async with inner(server_app) as state:
                yield state
        finally:
            blocks.exports_dir.cleanup()

    app.router.lifespan_context = lifespan
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
