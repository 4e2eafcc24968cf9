"""Re-indexing is idempotent and complete; bad input loses nothing already indexed."""

import pytest

from rag.errors import ArticleNotFoundError, IndexNotReadyError
from tests.conftest import SEED, write


def _ids_in_chroma(assistant, article_id=None):
    return [c.id for c in assistant.store.chunks(article_id)]


def test_reindexing_the_same_article_adds_and_embeds_nothing(seeded):
    before = _ids_in_chroma(seeded)
    calls = []
    original = seeded.embeddings.encode  # under every way of embedding a document
    seeded.embeddings.encode = lambda texts: calls.append(len(texts)) or original(texts)
    report = seeded.index(SEED)
    assert report.skipped == ["paris-summit-on-ukraine"]
    assert report.added == report.updated == []
    assert report.chunks_added == 0 and calls == []
    assert _ids_in_chroma(seeded) == before


def test_every_stored_chunk_is_an_exact_slice_of_its_article(seeded):
    text = seeded.article("paris-summit-on-ukraine").text
    chunks = seeded.store.chunks()
    assert chunks
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text


def test_shortened_article_leaves_no_stale_chunks(assistant, tmp_path):
    text = SEED.read_text()
    path = write(tmp_path / "story.md", text)
    assistant.index(path)
    long_count = len(_ids_in_chroma(assistant))
    write(path, text[: len(text) // 3])
    report = assistant.index(path)
    assert report.updated == ["story"]
    chunks = assistant.store.chunks()
    assert 0 < len(chunks) < long_count
    new_text = assistant.article("story").text
    assert all(new_text[c.start : c.end] == c.text for c in chunks)
    assert assistant.articles()[0].chunk_count == len(chunks)
    # every record points at a live chunk and vice versa
    assert set(assistant.store.record_manager.list_keys()) == {c.id for c in chunks}


def test_removal_leaves_nothing_behind(seeded, tmp_path):
    other = write(tmp_path / "other.txt", "The mayor opened a new library. It has ten thousand books.")
    seeded.index(other)
    seeded.remove("paris-summit-on-ukraine")
    assert [a.id for a in seeded.articles()] == ["other"]
    assert all(c.article_id == "other" for c in seeded.store.chunks())
    assert seeded.store.record_manager.list_keys(group_ids=["paris-summit-on-ukraine"]) == []
    seeded.remove("other")
    assert seeded.store.count_chunks() == 0 and seeded.articles() == []


def test_removing_an_unknown_article_fails_and_changes_nothing(seeded):
    before = _ids_in_chroma(seeded)
    with pytest.raises(ArticleNotFoundError, match="rag list"):
        seeded.remove("nope")
    assert _ids_in_chroma(seeded) == before


def test_bad_inputs_are_reported_and_the_index_is_intact(seeded, tmp_path):
    before = _ids_in_chroma(seeded)
    bad = [
        write(tmp_path / "empty.txt", ""),
        write(tmp_path / "blank.txt", "  \n "),
        write(tmp_path / "binary.txt", b"\x00\x01\x02\x03"),
        write(tmp_path / "latin1.txt", b"na\xefve"),
        tmp_path / "missing.txt",
    ]
    report = seeded.index(*bad)
    assert len(report.failed) == 5
    assert not report.added and not report.updated
    assert _ids_in_chroma(seeded) == before
    assert [a.id for a in seeded.articles()] == ["paris-summit-on-ukraine"]


def test_same_file_name_in_two_folders_gets_two_ids(assistant, tmp_path):
    a = write(tmp_path / "a" / "news.txt", "Alpha story about rivers.")
    b = write(tmp_path / "b" / "news.txt", "Beta story about mountains.")
    assistant.index(a, b)
    assert len(assistant.articles()) == 2
    assistant.index(a, b)
    assert len(assistant.articles()) == 2


def test_orphan_vectors_from_an_interrupted_run_are_cleaned(seeded, tmp_path):
    """A run killed after writing vectors but before their records leaves no duplicates behind."""
    collection = seeded.store.chroma.collection
    collection.add(ids=["orphan-1"], documents=["stray"], embeddings=[[0.1] * 384],
                   metadatas=[{"article_id": "paris-summit-on-ukraine", "title": "t", "source": "s",
                               "chunk_index": 99, "start": 0, "end": 5}])
    seeded.store.records.set_meta("write_unfinished", "1")  # what the killed run left set
    seeded.index(write(tmp_path / "next.txt", "Another article arrives."))
    assert "orphan-1" not in _ids_in_chroma(seeded)


def test_index_text_and_bytes(assistant):
    assistant.index_text("The ferry now runs hourly.", title="Ferry timetable")
    assistant.index_bytes(b"<html><body><p>The museum reopens in June after works.</p></body></html>", "m.html")
    ids = {a.id for a in assistant.articles()}
    assert ids == {"ferry-timetable", "m"}


def test_large_indexes_are_read_in_pages(seeded, tmp_path, monkeypatch):
    """Chroma fails on one `get` of 30,000+ ids ("too many SQL variables"): reads go in pages."""
    import rag.index.chroma

    monkeypatch.setattr(rag.index.chroma, "PAGE", 2)
    seeded.index(write(tmp_path / "more.txt", "A second article. It has a few sentences. About rivers and hills."))
    chunks = seeded.store.chunks()
    assert len(chunks) == seeded.store.count_chunks() > 2 * rag.index.chroma.PAGE
    assert len({c.id for c in chunks}) == len(chunks)
    seeded.store.chroma.collection.add(
        ids=["orphan-1", "orphan-2", "orphan-3"], documents=["x"] * 3, embeddings=[[0.1] * 384] * 3,
        metadatas=[{"article_id": "more", "title": "t", "source": "s", "chunk_index": 99, "start": 0, "end": 1}] * 3,
    )
    assert seeded.store.writer._repair() == 3
    assert seeded.store.count_chunks() == len(chunks)
    assert "deputy secretary of state" in seeded.ask("Who represented the US?").text


def test_a_failed_edit_keeps_the_old_article_answering(seeded, monkeypatch):
    import langchain_core.indexing

    from rag.types import Article

    before = _ids_in_chroma(seeded)
    old = seeded.store.records.get("paris-summit-on-ukraine")
    edited = Article(id=old["id"], title=old["title"], source=old["source"], text=old["text"] + "\n\nA late paragraph.")

    def broken_index(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(langchain_core.indexing, "index", broken_index)
    report = seeded.store.index_articles([edited])
    assert report.failed and "disk full" in report.failed[0][1]
    assert [a.id for a in seeded.articles()] == ["paris-summit-on-ukraine"]
    assert seeded.article("paris-summit-on-ukraine").text == old["text"]
    assert _ids_in_chroma(seeded) == before
    answer = seeded.ask("Who represented the US?")
    assert answer.citations and all(old["text"][c.start : c.end] == c.quote for c in answer.citations)


def test_a_removal_hides_the_article_before_its_vectors_go(seeded, monkeypatch):
    """Killed between the two deletes, a removal leaves nothing that answers."""
    collection = seeded.store.chroma.collection

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for the process dying mid-removal

    monkeypatch.setattr(type(collection), "delete", killed)
    with pytest.raises(KeyboardInterrupt):
        seeded.remove("paris-summit-on-ukraine")
    monkeypatch.undo()
    assert seeded.articles() == []
    with pytest.raises(IndexNotReadyError):  # "No articles are indexed": nothing half-removed answers
        seeded.ask("Who represented the US?")
    # The next write of any article clears what the removal left.
    seeded.index_text("The tram line opens in May.", title="Tram")
    assert [c.article_id for c in seeded.store.chunks()] == ["tram"]
    assert {c.id for c in seeded.store.chunks()} == set(seeded.store.record_manager.list_keys())
    # Indexing it again brings it back whole, with no duplicate chunks.
    seeded.remove("tram")
    seeded.index(SEED)
    ids = _ids_in_chroma(seeded)
    assert len(ids) == len(set(ids)) == seeded.articles()[0].chunk_count


def test_an_unusable_records_url_is_one_line_without_the_password(tmp_path):
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(
        index_dir=tmp_path / "index", embedding_backend="fake", _env_file=None,
        records_url="nosuchdb+driver://rag:hunter2@db.example/rag",
    )
    with pytest.raises(IndexNotReadyError) as err:
        Assistant(settings).articles()
    message = str(err.value)
    assert "RAG_RECORDS_URL" in message and "\n" not in message
    assert "hunter2" not in message and "db.example" in message


def test_an_unwritable_index_folder_is_a_clear_error(tmp_path):
    from rag.assistant import Assistant
    from rag.config import Settings

    blocker = write(tmp_path / "not-a-folder", "a file where the index folder should be")
    settings = Settings(index_dir=blocker / "index", embedding_backend="fake", _env_file=None)
    with pytest.raises(IndexNotReadyError, match="RAG_INDEX_DIR"):
        Assistant(settings).index(SEED)


def test_sentence_vectors_come_from_the_indexing_pass_and_follow_the_article(seeded, tmp_path, monkeypatch):
    import numpy as np

    text = seeded.article("paris-summit-on-ukraine").text
    sentences = seeded._answer_pipeline().corpus.sentences("paris-summit-on-ukraine")
    stored = seeded.store.stored_sentence_vectors("paris-summit-on-ukraine", text, len(sentences))
    assert stored is not None and stored.shape == (len(sentences), 384)
    assert not np.isnan(stored.astype(np.float32)).any()
    # Answering reads them: no sentence is embedded at question time.
    calls = []
    original = seeded.embeddings.encode
    monkeypatch.setattr(seeded.embeddings, "encode", lambda texts: calls.append(list(texts)) or original(texts))
    answer = seeded.ask("Who represented the US?")
    assert not answer.refused and calls == [["Who represented the US?"]]
    monkeypatch.undo()
    # An edit replaces them: the old ones no longer match, the new ones match the new text.
    path = write(tmp_path / "story.md", SEED.read_text())
    seeded.index(path)
    old_text = seeded.article("story").text
    assert seeded.store.stored_sentence_vectors("story", old_text, len(sentences)) is not None
    write(path, SEED.read_text().split("\n\n", 2)[0] + "\n\nOne new closing sentence. And another one.\n")
    seeded.index(path)
    new_text = seeded.article("story").text
    new_count = len(seeded._answer_pipeline().corpus.sentences("story"))
    assert seeded.store.stored_sentence_vectors("story", old_text, len(sentences)) is None
    fresh = seeded.store.stored_sentence_vectors("story", new_text, new_count)
    assert fresh is not None and fresh.shape[0] == new_count
    # A removal takes them away.
    seeded.remove("story")
    assert seeded.store.records.load_sentence_vectors("story") is None


def test_an_index_without_sentence_vectors_gets_them_on_its_next_run(seeded):
    """An index made before sentence vectors (or whose rows were lost) answers meanwhile by
    embedding sentences on demand, and the next indexing run adds the vectors."""
    text = seeded.article("paris-summit-on-ukraine").text
    with seeded.store.records.engine.begin() as conn:
        conn.execute(seeded.store.records.sentence_vectors.delete())
    seeded.store.lock.bump_version()  # what a write by another process does
    answer = seeded.ask("Who represented the US?")
    assert not answer.refused and "deputy secretary of state" in answer.text
    report = seeded.index(SEED)
    assert report.updated == ["paris-summit-on-ukraine"] and report.chunks_added == 0
    rows = len(seeded._answer_pipeline().corpus.sentences("paris-summit-on-ukraine"))
    assert seeded.store.stored_sentence_vectors("paris-summit-on-ukraine", text, rows) is not None
    assert seeded.index(SEED).skipped == ["paris-summit-on-ukraine"]


def test_an_edit_that_fails_after_writing_never_quotes_old_text_at_new_offsets(seeded, monkeypatch):
    import langchain_core.indexing

    from rag.types import Article

    old = seeded.store.records.get("paris-summit-on-ukraine")
    edited = Article(
        id=old["id"], title=old["title"], source=old["source"], text="A new opening sentence.\n\n" + old["text"],
    )
    real_index = langchain_core.indexing.index

    def index_then_fail(*args, **kwargs):
        real_index(*args, **kwargs)  # new chunks written, old ones cleaned up
        raise RuntimeError("the disk filled up just after")

    monkeypatch.setattr(langchain_core.indexing, "index", index_then_fail)
    report = seeded.store.index_articles([edited])
    assert report.failed and seeded.article("paris-summit-on-ukraine").text == old["text"]
    seeded.store.lock.bump_version()
    pipeline = seeded._answer_pipeline()
    assert all(old["text"][c.start : c.end] == c.text for c in pipeline.retriever.chunks)
    for question in ("Who represented the US?", "Which German leader attended?"):
        answer = seeded.ask(question)
        assert all(old["text"][c.start : c.end] == c.quote for c in answer.citations)


def test_indexing_threads_do_not_share_precomputed_vectors(seeded):
    import threading

    wrapper = seeded.store.chroma.indexing_embeddings
    seen = {}

    def other_thread():
        seen["vector"] = wrapper.embed_documents(["chunk text"])[0]

    with wrapper.precomputed({"chunk text": [0.5] * 384}):
        assert wrapper.embed_documents(["chunk text"])[0] == [0.5] * 384
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen["vector"] != [0.5] * 384  # embedded by the model, not another run's vector


def test_index_takes_a_list_of_paths_as_well_as_several_arguments(assistant, tmp_path):
    a = write(tmp_path / "a.md", "# Alpha\n\nThe alpha bridge opened on Monday.\n")
    b = write(tmp_path / "b.md", "# Beta\n\nThe beta tunnel closed on Tuesday.\n")
    report = assistant.index([a, str(b)])
    assert sorted(report.added) == ["a", "b"] and not report.failed
    assert assistant.index(a, b).skipped == ["a", "b"]


def test_the_repair_runs_only_after_a_write_that_did_not_finish(seeded, tmp_path):
    """The repair reads every chunk and key (minutes at 10,000 articles), so a write pays it only
    when the marker says the last write stopped midway."""
    store = seeded.store

    def orphan(cid):
        store.chroma.collection.add(
            ids=[cid], documents=["x"], embeddings=[[0.1] * 384],
            metadatas=[{"article_id": "gone", "title": "t", "source": "s", "chunk_index": 0, "start": 0, "end": 1}],
        )

    orphan("orphan-a")
    seeded.index(write(tmp_path / "one.txt", "A first extra article. About rivers."))
    assert store.chroma.collection.get(ids=["orphan-a"])["ids"] == ["orphan-a"]  # finished writes: no repair
    store.records.set_meta("write_unfinished", "1")  # as a write killed midway leaves it
    seeded.index(write(tmp_path / "two.txt", "A second extra article. About hills."))
    assert store.chroma.collection.get(ids=["orphan-a"])["ids"] == []
    assert store.records.get_meta("write_unfinished") == "0"


def test_one_articles_chunks_and_nearest_are_found_by_id_as_the_filter_finds_them(seeded, tmp_path, monkeypatch):
    """Reads and searches within one article go by its chunk ids (a lookup whose cost does not
    grow with the archive) and find what Chroma's filter on the article finds, in pages too."""
    import rag.index.chroma

    seeded.index(write(tmp_path / "more.txt", "A second article. It has a few sentences. About rivers and hills."))
    store = seeded.store
    articles = [a.id for a in seeded.articles()]
    assert len(articles) == 2
    monkeypatch.setattr(rag.index.chroma, "PAGE", 3)
    vector = seeded.embeddings.embed_query("Who represented the US at the summit?")
    for article_id in articles:
        # What Chroma's own filter on the article finds, read and searched through its public API.
        where = {"article_id": article_id}
        by_filter = sorted(
            (c for c in store.chroma.chunks() if c.article_id == article_id), key=lambda c: c.index)
        assert by_filter and store.chunks(article_id) == by_filter
        ids = [c.id for c in by_filter]
        assert sorted(ids) == sorted(store.chroma.collection.get(where=where, include=[])["ids"])
        exact = store.nearest(vector, 5, among=ids)
        got = store.chroma.collection.query(query_embeddings=[vector], n_results=5, where=where, include=["distances"])
        filtered = [(cid, 1.0 - d) for cid, d in zip(got["ids"][0], got["distances"][0])]
        assert [cid for cid, _ in exact] == [cid for cid, _ in filtered][: len(exact)]
        assert [s for _, s in exact] == pytest.approx([s for _, s in filtered][: len(exact)], abs=1e-5)
    assert store.nearest(vector, 5, among=[]) == []
    scoped = seeded.ask("Who represented the US?", article="paris-summit-on-ukraine")
    assert "deputy secretary of state" in scoped.text


def test_reopening_frees_the_old_chroma_client_and_its_vectors(seeded):
    """A reader reopens after another process writes; the client it drops holds the whole vector
    index in memory and sits in a reference cycle: each reopen once kept another copy
    (+113 MB per reopen at 50,000 chunks)."""
    import weakref

    store = seeded.store
    assert store.count_chunks() > 0  # opened
    system = weakref.ref(store.chroma._client._system)  # noqa: SLF001 - the point is the object's lifetime
    store.reopen()
    assert system() is None
    assert "deputy secretary of state" in seeded.ask("Who represented the US?").text
