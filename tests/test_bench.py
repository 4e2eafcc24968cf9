"""The benchmark: its metrics on hand-made answers, the tutorial baseline, and a tiny end-to-end run."""

from __future__ import annotations

import json

import pytest

from bench.runner import (
    CachedEmbeddings,
    citation_precision,
    passage_precision,
    summarize,
)
from rag.evaluate import Question, Report, score_answer
from rag.types import Answer, Citation

PARAGRAPHS = [
    "The Harbour Bridge of Norvik was opened in 1931 by Mayor Elena Strand. It carries a railway and "
    "four lanes of traffic across the estuary. Its steel arch spans 503 metres, and it was painted grey "
    "to hide the soot of the steam engines.",
    "Before the bridge, a ferry run by the Lund family crossed the estuary every half hour. The ferry "
    "stopped in 1932, a year after the opening, when its last captain, Oskar Lund, retired to Bergholm.",
    "In 1988 the city added a cycle path on the eastern side. Some 12,000 cyclists now use it every day, "
    "according to the city council, which counts them with sensors set into the deck.",
    "The bridge is closed one night a year for inspection. Engineers climb the arch and check each of "
    "its 6,000 rivets; the last major repair, in 2015, replaced the expansion joints at both ends.",
] * 5
ARTICLE = "\n\n".join(PARAGRAPHS)


def cite(quote: str, n: int = 1) -> Citation:
    return Citation(n=n, article_id="a", title="A", source="s", chunk_id=f"c{n}", quote=quote,
                    start=0, end=len(quote), score=1.0)


def q(answers, support=None, answerable=True, qid="q") -> Question:
    return Question(qid, "Who opened the bridge?", list(answers), list(support if support is not None else answers), answerable)


# --- metrics through the functions the benchmark uses --------------------------------------------
def test_a_cited_gold_answer_is_a_hit_at_rank_1_with_its_citation_precision():
    sentence = "The bridge was opened in 1931 by Mayor Elena Strand."
    answer = Answer("Who opened the bridge?", f"{sentence} [1]", citations=[cite(sentence)])
    question = q(["Elena Strand"])
    outcome = score_answer(question, answer, 0.01)
    assert outcome.hit and outcome.cited_support and outcome.support_rank == 1
    assert outcome.cited_chars == len(sentence)
    assert citation_precision(question, answer) == pytest.approx(len("Elena Strand") / len(sentence))
    assert passage_precision(question, answer) == 1.0


def test_answers_are_normalised_before_matching():
    # Case, punctuation and the articles a/an/the do not matter (SQuAD's normalisation).
    answer = Answer("?", "It was THE Harbour-Bridge, of course. [1]", citations=[cite("It was THE Harbour-Bridge.")])
    outcome = score_answer(q(["the harbour bridge!"]), answer, 0.0)
    assert outcome.hit and outcome.support_rank == 1


def test_a_miss_has_no_rank_and_no_citation_precision():
    answer = Answer("?", "The ferry stopped in 1932. [1]", citations=[cite("The ferry stopped in 1932.")])
    question = q(["Elena Strand"])
    outcome = score_answer(question, answer, 0.0)
    assert not outcome.hit and outcome.support_rank is None and not outcome.cited_support
    assert citation_precision(question, answer) is None
    assert passage_precision(question, answer) == 0.0


def test_support_found_later_in_the_evidence_counts_at_its_rank():
    answer = Answer("?", "x", citations=[cite("The ferry stopped.", 1), cite("Noise.", 2), cite("Mayor Elena Strand opened it.", 3)])
    question = q(["Elena Strand"])
    assert score_answer(question, answer, 0.0).support_rank == 3
    assert passage_precision(question, answer) == pytest.approx(1 / 3)


def test_citation_precision_counts_the_support_once_over_all_cited_characters():
    quote = "Mayor Elena Strand opened it."
    answer = Answer("?", quote, citations=[cite(quote, 1), cite(quote, 2)])
    question = q(["Strand", "Elena Strand"])  # the longest support string found counts
    assert citation_precision(question, answer) == pytest.approx(len("Elena Strand") / (2 * len(quote)))


def test_refusals_count_for_unanswerable_and_against_answerable_questions():
    refusal = Answer("?", "The articles do not say.", refused=True)
    guess = Answer("?", "Oskar Lund. [1]", citations=[cite("Oskar Lund retired.")])
    report = Report(name="t")
    cases = [
        (q([], answerable=False, qid="u1"), refusal),   # right: refused
        (q([], answerable=False, qid="u2"), guess),     # wrong: answered the unanswerable
        (q(["Elena Strand"], qid="a1"), refusal),       # false refusal
        (q(["Oskar Lund"], qid="a2"), guess),           # hit
    ]
    precisions, passages = [], []
    for question, answer in cases:
        report.outcomes.append(score_answer(question, answer, 0.002))
        precisions.append(citation_precision(question, answer))
        passages.append(passage_precision(question, answer))
    m = summarize(report, precisions, passages)
    assert m["refusal_accuracy"] == 0.5
    assert m["false_refusal_rate"] == 0.5
    assert m["answer_hit_rate"] == 0.5
    assert m["citation_precision"] == pytest.approx(round(len("Oskar Lund") / len("Oskar Lund retired."), 4))
    assert m["citation_precision_n"] == 1
    assert citation_precision(cases[0][0], refusal) is None


# --- the baseline ---------------------------------------------------------------------------------
def test_the_tutorial_baseline_cites_its_top_4_chunks_and_never_refuses(tmp_path):
    from bench.baseline import TutorialBaseline
    from rag.embeddings import HashingEmbeddings
    from rag.types import Article

    article = Article(id="bridge", title="Harbour Bridge", source="test", text=ARTICLE)
    baseline = TutorialBaseline(tmp_path / "chroma", HashingEmbeddings()).warm_up()
    chunks = baseline.index_articles([article])
    assert chunks == baseline.count_chunks() >= 5
    answer = baseline.ask("Who opened the Harbour Bridge in 1931?")
    assert not answer.refused and len(answer.citations) == 4
    assert answer.text == answer.citations[0].quote
    for c in answer.citations:
        assert len(c.quote) <= 1000
        assert ARTICLE[c.start : c.end] == c.quote
    outcome = score_answer(q(["Elena Strand"]), answer, 0.0)
    assert outcome.cited_chars == sum(len(c.quote) for c in answer.citations)


def test_cached_embeddings_embed_each_distinct_text_once():
    from rag.embeddings import HashingEmbeddings

    inner = HashingEmbeddings()
    cached = CachedEmbeddings(inner, {})
    first = cached.embed_documents(["a b", "c d", "a b"])
    again = cached.embed_documents(["c d", "a b"])
    assert cached.misses == 2
    assert first[0] == first[2] == again[1] == pytest.approx(inner.embed_documents(["a b"])[0])
    assert cached.name == inner.name


# --- a tiny run of `python -m bench --quick`, fake embeddings --------------------------------------
def test_a_tiny_quick_run_writes_both_systems_metrics(tmp_path):
    from bench.__main__ import main

    squad = tmp_path / "tiny_squad.jsonl"
    squad.write_text(json.dumps({
        "title": "Harbour_Bridge",
        "article_text": ARTICLE,
        "questions": [
            {"id": "t1", "question": "Who opened the Harbour Bridge?", "answers": ["Elena Strand"], "paragraph_index": 0},
            {"id": "t2", "question": "When did the ferry stop?", "answers": ["1932"], "paragraph_index": 1},
            {"id": "t3", "question": "Who designed the tunnel?", "answers": [], "paragraph_index": 2,
             "is_impossible": True, "plausible_answers": ["Oskar Lund"]},
        ],
    }) + "\n", encoding="utf-8")
    article = tmp_path / "bridge.md"
    article.write_text("# Harbour Bridge\n\n" + ARTICLE, encoding="utf-8")
    dev = tmp_path / "tiny_dev.jsonl"
    dev.write_text(json.dumps({
        "id": "d1", "question": "How many cyclists use the path every day?", "answers": ["12,000"],
        "support": ["Some 12,000 cyclists now use it every day"], "answerable": True,
    }) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    code = main([
        "--quick", "--data", str(squad), str(dev), "--articles", str(article), "--fake-embeddings", "--out", str(out),
        "--scale", "1", "2", "--scale-data", str(squad), "--scale-questions", "2", "--cold-runs", "1",
    ])
    assert code == 0
    result = json.loads((out / "bench-quick.json").read_text())
    assert result["meta"]["quick"] is True
    assert set(result["systems"]) == {"ours", "baseline"}
    for system in ("ours", "baseline"):
        files = result["systems"][system]["files"]
        assert set(files) == {"tiny_squad.jsonl", "tiny_dev.jsonl"}
        m = files["tiny_squad.jsonl"]["metrics"]
        for key in ("support_recall@1", "support_recall@4", "answer_hit_rate", "citation_precision", "passage_precision",
                    "mean_cited_chars", "refusal_accuracy", "false_refusal_rate", "latency_p50_ms", "latency_p95_ms"):
            assert key in m
        assert (m["answerable"], m["unanswerable"]) == (2, 1)
        assert files["tiny_squad.jsonl"]["chunks"] > 0 and files["tiny_squad.jsonl"]["peak_rss_mb"] > 0
        assert files["tiny_dev.jsonl"]["metrics"]["questions"] == 1
        cold = result["systems"][system]["cold_start"]
        assert cold["wall_s"] > 0 and cold["peak_rss_mb"] > 0
    assert result["systems"]["baseline"]["files"]["tiny_squad.jsonl"]["metrics"]["refusal_accuracy"] == 0.0
    points = result["scale"]["points"]
    assert [p["articles"] for p in points] == [1, 2]
    assert points[1]["chunks"] == 2 * points[0]["chunks"]
    assert points[1]["embedded_chunks"] == 0  # repeats came from the cache
    assert (out / "bench-quick-ours-tiny_squad.jsonl").exists()
    pytest.importorskip("matplotlib")
    for name in ("bench_quality.png", "bench_cost.png", "bench_scale.png"):
        assert (out / name).stat().st_size > 0


def test_the_scale_curve_builds_by_steps_then_measures_in_a_fresh_assistant(tmp_path):
    from bench.scale import main

    squad = tmp_path / "tiny_squad.jsonl"
    rows = [{"title": f"Bridge_{i}", "article_text": ARTICLE.replace("Norvik", f"Norvik {i}"), "questions": [
        {"id": f"t{i}", "question": "Who opened the Harbour Bridge?", "answers": ["Elena Strand"], "paragraph_index": 0},
    ]} for i in range(2)]
    squad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cache, index = tmp_path / "emb.npz", tmp_path / "index"
    common = ["--data", str(squad), "--cache", str(cache), "--fake-embeddings"]
    main(["prewarm", *common, "--result", str(tmp_path / "prewarm.json")])
    main(["build", *common, "--steps", "2", "5", "--index-dir", str(index), "--result", str(tmp_path / "build.json")])
    main(["measure", *common, "--index-dir", str(index), "--result", str(tmp_path / "measure.json"),
          "--questions", "4", "--writes", "1"])
    build = json.loads((tmp_path / "build.json").read_text())
    assert [p["articles"] for p in build["points"]] == [2, 5]
    assert [p["added"] for p in build["points"]] == [2, 3]  # the copies are new articles
    assert build["points"][1]["chunks"] == 5 * build["points"][0]["chunks"] // 2
    assert build["points"][1]["embedded_chunks"] == 0  # every chunk vector came from the cache
    measure = json.loads((tmp_path / "measure.json").read_text())
    assert measure["articles"] == 5 and measure["never_answerable"] == 0
    assert measure["write_to_answerable_replica_ms"] is not None
    stages = measure["stages_ms_p50_p95"]
    assert set(stages) == {"embed", "dense", "keyword", "context", "answerer", "reader", "total",
                           "answerer_no_reader", "total_no_reader"}
    assert 0 < stages["reader"][0] <= stages["answerer"][0] <= stages["total"][0]  # the reader runs inside the answerer
    assert stages["answerer_no_reader"][0] is not None


def test_spans_summary_refuses_above_the_p_none_threshold_or_below_the_score_floor():
    from bench.spans import summarise

    def record(answerable, p_none, score, em=1.0):
        return {"answerable": answerable, "refused": False, "p_none": p_none, "score": score, "seconds": 0.1,
                "cited": True, "short": True, "em": em, "f1": em}

    records = [record(True, 0.1, 2.0), record(True, 0.1, 0.5), record(True, 0.99, 2.0),
               record(False, 0.99, 2.0), record(False, 0.1, 0.5), record(False, 0.1, 2.0, em=0.0)]
    both = summarise(records, 0.95, 0.9)
    assert both["false_refusals"] == round(2 / 3, 3) and both["unanswerable_refused"] == round(2 / 3, 3)
    assert both["short_answer_em"] == round(1 / 3, 3) and both["floor"] == 0.9
    assert summarise(records, 0.95)["unanswerable_refused"] == round(1 / 3, 3)  # P(none) alone
    assert summarise(records, None, 0.9)["false_refusals"] == round(1 / 3, 3)  # the floor alone
    assert summarise([dict(records[0], score=None)], None, 0.9)["false_refusals"] == 1.0  # no sentence


def test_spans_measure_the_sentence_the_short_answer_cites_not_the_first_cited():
    from bench.spans import answer_sentence
    from rag.types import ShortAnswer

    context = "Two days later, the FBI ordered the custodian to seize his belongings."
    answering = "John G. Trump was called in to analyse the items."
    cites = [Citation(1, "a", "A", "s", "c1", context, 0, len(context), 1.0),
             Citation(2, "a", "A", "s", "c2", answering, len(context) + 1, len(context) + 1 + len(answering), 0.9)]
    short = ShortAnswer("John G. Trump", "a", cites[1].start, cites[1].start + 13, 2, 0.9)
    assert answer_sentence(Answer("Who analysed them?", "**John G. Trump** [2]", cites, short_answer=short)) is cites[1]
    assert answer_sentence(Answer("Who analysed them?", "...", cites)) is cites[0]  # no short answer: the first
    assert answer_sentence(Answer("Who analysed them?", "No.", refused=True)) is None


def test_llm_tally_counts_a_bold_short_answer_that_is_no_gold_answer_as_wrong():
    from bench.llm import Tally
    from rag.evaluate import Question
    from rag.types import Answer

    asked = Question("q1", "When did Holden announce it?", ["May 2013", "in May 2013"], [], True)
    impossible = Question("q2", "When did Ford announce it?", [], [], False)
    tally = Tally()
    tally.add(asked, Answer("q", "**December** [1]", answer_span="December"), 0.1, 1)
    tally.add(asked, Answer("q", "**2013** [1]", answer_span="2013"), 0.1, 1)  # part of a gold answer
    tally.add(asked, Answer("q", "No.", refused=True), 0.1, 1)  # nothing shown
    tally.add(impossible, Answer("q", "**May 2013** [1]", answer_span="May 2013"), 0.1, 1)
    assert (tally.shown_short, tally.short_wrong) == (3, 2)
    assert "| 2 / 3 (66.7%) |" in tally.row("x")


def test_llm_totals_add_every_count_of_each_file():
    from dataclasses import fields

    from bench.llm import Tally, _merge

    one = Tally()
    for i, f in enumerate(fields(Tally), start=1):
        setattr(one, f.name, [0.1 * i] if f.name == "seconds" else i)
    total = Tally()
    _merge(total, one)
    _merge(total, one)
    for f in fields(Tally):
        assert getattr(total, f.name) == 2 * getattr(one, f.name), f.name


def test_paraphrase_questions_have_gold_answers_verbatim_in_their_articles(shared_eval):
    from bench.paraphrases import DATA, SEED_TITLE, SEEDS, load

    texts = {row["title"]: row["article_text"]
             for row in map(json.loads, (shared_eval / "squad_v1_public.jsonl").read_text(encoding="utf-8").splitlines())}
    texts[SEED_TITLE] = next(SEEDS.glob("*.md")).read_text(encoding="utf-8")
    by_article = load(DATA)
    assert set(by_article) <= set(texts)
    questions = [q for qs in by_article.values() for q in qs]
    assert len({q.id for q in questions}) == len(questions) and any(not q.answerable for q in questions)
    for title, qs in by_article.items():
        for q in qs:
            assert q.answerable == bool(q.answers)
            assert all(g in texts[title] for g in q.answers), (title, q.question)


@pytest.mark.slow
def test_reader_speed_times_both_forward_passes_and_finds_them_equal(shared_eval, capsys):
    from bench.reader_speed import main

    main(["--data", str(shared_eval / "squad_v1_public.jsonl"), "--batches", "3", "--embeds", "3", "--pauses", "0"])
    result = json.loads(capsys.readouterr().out)
    assert result["traced"] and result["batches_differing"] == 0
    assert result["forward_traced"]["p50_ms"] > 0 and result["embed_query"]["after_0.0s"]["p50_ms"] > 0


def test_a_reply_book_records_the_models_replies_and_replays_them_without_it(tmp_path):
    import httpx
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.messages import HumanMessage

    from bench.llm import ReplyBook
    from tests.test_llm import DownChat

    path = tmp_path / "replies.jsonl"
    asked = [HumanMessage("Who opened the bridge?")]
    model = FakeListChatModel(responses=["ANSWER: Mayor Elena Strand [1]", "something else"], cache=ReplyBook(path))
    assert model.invoke(asked).content == "ANSWER: Mayor Elena Strand [1]"
    assert model.invoke(asked).content == "ANSWER: Mayor Elena Strand [1]"  # the book, not the model's next reply
    # Another run: the same prompt is answered from the file; a new one reaches the model, down here.
    replay = DownChat(responses=["unused"], cache=ReplyBook(path))
    assert replay.invoke(asked).content == "ANSWER: Mayor Elena Strand [1]"
    with pytest.raises(httpx.ConnectError):
        replay.invoke([HumanMessage("Who ran the ferry?")])
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


@pytest.mark.slow
def test_replay_starts_no_server_and_a_prompt_missing_from_the_book_gets_the_offline_answer(shared_eval, tmp_path, capsys):
    from bench import llm

    with pytest.raises(SystemExit):
        llm.main(["--replay"])  # a replay needs a book
    book = tmp_path / "replies.jsonl"
    book.write_text("", encoding="utf-8")
    # The seed dev set only; nothing listens where the replay points, so every question falls back.
    llm.main(["--v1", "0", "--v2", "0", "--systems", "grounded", "--replies", str(book), "--replay"])
    out = capsys.readouterr().out
    questions = sum(1 for line in (shared_eval / "dev_article.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    assert f"| grounded | {questions} |" in out and f"({questions} offline fallbacks)" in out
    assert book.read_text(encoding="utf-8") == ""  # nothing answered, nothing recorded
