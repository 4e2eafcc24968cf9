"""Fit the short-answer span ranker (`rag/answering/spans.py`) on SQuAD-format questions.

For every answerable question, the sentence of its paragraph that holds a gold answer is parsed;
each candidate span is a row (label: it is a gold answer after SQuAD normalisation). A logistic
regression over the sparse features is validated **by article** (grouped k-fold: the articles a
fold is measured on were never seen by its fit) and then fitted on all rows; the weights go to
`rag/answering/span_weights.json`. Reports candidate recall, held-out EM / F1 of the top span,
and EM / F1 / coverage along the probability threshold.

Run: python -m bench.fit_spans [--data ../shared/eval/squad_v1_public.jsonl] [--folds 4] [--write]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

from rag.answering.spans import (
    WEIGHTS,
    QuestionView,
    _candidates,
    clause_matches,
    parse,
    rule_span,
    sentence_evidence,
    span_features,
    wh_class,
)
from rag.chunking import split_sentences
from rag.text import normalise_answer

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def f1(pred: str, gold: str) -> float:
    p, g = normalise_answer(pred).split(), normalise_answer(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not p or not g or same == 0:
        return float(p == g)
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def gold_sentences(path: Path):
    """(article title, question, golds, sentence text) for each answerable question whose gold
    answer lies inside one sentence of its paragraph."""
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = row["article_text"]
        sents = split_sentences(text)
        para_starts, pos = [], 0
        for para in text.split("\n\n"):
            para_starts.append(text.index(para, pos))
            pos = para_starts[-1] + len(para)
        for q in row["questions"]:
            if q.get("is_impossible") or not q["answers"]:
                continue
            p_start = para_starts[q["paragraph_index"]]
            p_end = p_start + len(text.split("\n\n")[q["paragraph_index"]])
            for s in sents:
                if s.start >= p_start and s.end <= p_end:
                    quote = text[s.start : s.end]
                    if any(g in quote for g in q["answers"]):
                        yield row["title"], q["question"], q["answers"], [quote], None
                        break


def pipeline_items(path: Path, index_dir: Path, top: int):
    """(article title, question, golds, [sentence texts], [sentence evidence]) for each answerable
    question, the sentences being the extractive answerer's `top` best for it."""
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embeddings import OnnxEmbeddings
    from rag.evaluate import load_file
    from rag.types import Article

    raw, questions = load_file(path)
    assistant = Assistant(Settings(_env_file=None, index_dir=index_dir), embeddings=OnnxEmbeddings())
    assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw)
    pipeline = assistant._answer_pipeline()
    titles = {q["id"]: row["title"] for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
              for q in row["questions"]}
    for q in questions:
        if not q.answerable:
            continue
        ctx = pipeline.context(q.question)
        cands = pipeline.answerer.candidates(ctx.search, ctx.hits, ctx.corpus, ctx.query_vector)[:top]
        if not cands:
            continue
        wh = wh_class(q.question)
        sents = [ctx.corpus.sentence_text(c.article_id, c.index) for c in cands]
        evidence = [sentence_evidence(r, c.score, cands[0].score, c.lexical, c.dense, wh) for r, c in enumerate(cands)]
        yield titles[q.id], q.question, q.answers, sents, evidence


def build_rows(items):
    rows, labels, groups, qids, texts = [], [], [], [], []
    for qi, (title, question, golds, sentences, evidence) in enumerate(items):
        qv = QuestionView(question)
        norm = {normalise_answer(g) for g in golds}
        for k, sentence in enumerate(sentences):
            doc = parse(sentence)
            rule, clauses = rule_span(sentence, qv), clause_matches(sentence, qv)
            for i, j, kind in _candidates(doc):
                span_text = sentence[doc[i].idx : doc[j - 1].idx + len(doc[j - 1].text)]
                feats = span_features(doc, i, j, kind, qv, rule, clauses)
                feats.update(evidence[k] if evidence else {})
                rows.append(feats)
                labels.append(int(normalise_answer(span_text) in norm))
                groups.append(title)
                qids.append(qi)
                texts.append(span_text)
    return rows, np.array(labels), np.array(groups), np.array(qids), texts


class SoftmaxRanker:
    """A conditional logit: one softmax over each question's candidates, fitted to put the mass on
    its gold spans (what answering does: pick the best candidate), with L2 regularisation.
    scikit-learn has no grouped softmax, so the loss and its gradient are written here for
    scipy's L-BFGS."""

    def __init__(self, C: float = 1.0, max_iter: int = 300):
        self.C, self.max_iter = C, max_iter

    def fit(self, x, labels, qids):
        from scipy.optimize import minimize

        order = np.argsort(qids, kind="stable")
        x, labels, qids = x[order], labels[order], qids[order]
        starts = np.flatnonzero(np.r_[True, qids[1:] != qids[:-1]])
        has_gold = np.add.reduceat(labels, starts) > 0
        keep = np.repeat(has_gold, np.diff(np.r_[starts, len(qids)]))
        x, labels, qids = x[keep], labels[keep], qids[keep]
        starts = np.flatnonzero(np.r_[True, qids[1:] != qids[:-1]])
        sizes = np.diff(np.r_[starts, len(qids)])
        xt = x.T.tocsr()
        lam = 1.0 / (2.0 * self.C)

        def loss(w):
            s = x @ w
            top = np.repeat(np.maximum.reduceat(s, starts), sizes)
            e = np.exp(s - top)
            z_all = np.repeat(np.add.reduceat(e, starts), sizes)
            ep = e * labels
            z_pos = np.repeat(np.add.reduceat(ep, starts), sizes)
            value = float(np.sum(np.log(np.add.reduceat(e, starts)) - np.log(np.add.reduceat(ep, starts))))
            grad = xt @ (e / z_all - ep / z_pos)
            return value + lam * float(w @ w), grad + 2 * lam * w

        result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        self.coef_ = result.x
        return self

    def decision_function(self, x):
        return x @ self.coef_


def evaluate(scores, labels, qids, texts, items, thresholds=(0.0,)):
    """Per question: the top candidate (softmax over its sentence's candidates), EM and F1 against
    the golds, by probability threshold (below it: no short answer, which scores 0)."""
    best: dict[int, tuple[float, int]] = {}
    sums: dict[int, float] = {}
    tops: dict[int, float] = {}
    for n, (q, s) in enumerate(zip(qids, scores)):
        tops[q] = max(tops.get(q, -1e9), s)
    for n, (q, s) in enumerate(zip(qids, scores)):
        sums[q] = sums.get(q, 0.0) + math.exp(s - tops[q])
        if q not in best or s > best[q][0]:
            best[q] = (s, n)
    out = []
    for t in thresholds:
        em = f = shown = shown_em = 0.0
        for q, (s, n) in best.items():
            prob = 1.0 / sums[q]
            if prob < t:
                continue
            shown += 1
            golds = items[q][2]
            e = float(any(normalise_answer(texts[n]) == normalise_answer(g) for g in golds))
            em += e
            shown_em += e
            f += max(f1(texts[n], g) for g in golds)
        total = len(items)
        out.append((t, em / total, f / total, shown / total, shown_em / max(shown, 1)))
    return out


def main(argv: list[str] | None = None) -> None:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    ap = argparse.ArgumentParser(prog="python -m bench.fit_spans", description=__doc__)
    ap.add_argument("--data", type=Path, default=EVAL / "squad_v1_public.jsonl")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--mode", choices=["pipeline", "gold"], default="pipeline",
                    help="candidates from the answerer's top sentences (as answering does) or from the gold sentence")
    ap.add_argument("--top", type=int, default=3, help="sentences per question in pipeline mode")
    ap.add_argument("--index-dir", type=Path, default=Path("/tmp/rag-fit-spans/index"))
    ap.add_argument("--items", type=Path, default=None,
                    help="a JSON file caching the questions' candidate sentences (made when missing)")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--model", choices=["logistic", "softmax"], default="softmax",
                    help="a binary logistic regression per candidate, or one softmax per question")
    ap.add_argument("--threshold", type=float, default=None, help="written with the weights (default: chosen)")
    ap.add_argument("--write", action="store_true", help="fit on all questions and write the weights")
    ap.add_argument("--out", type=Path, default=WEIGHTS, help="where --write puts the weights")
    ap.add_argument("--leave-out", type=Path, default=None,
                    help="a SQuAD-format file whose articles are left out of the fit (to measure on them)")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    if args.mode == "gold":
        items = list(gold_sentences(args.data))
    elif args.items and args.items.exists():
        items = json.loads(args.items.read_text(encoding="utf-8"))
    else:
        items = list(pipeline_items(args.data, args.index_dir, args.top))
        if args.items:
            args.items.write_text(json.dumps(items), encoding="utf-8")
    if args.leave_out:
        held = {json.loads(line)["title"] for line in args.leave_out.read_text(encoding="utf-8").splitlines()}
        items = [it for it in items if it[0] not in held]
        print(f"left out the {len(held)} articles of {args.leave_out.name}")
    rows, labels, groups, qids, texts = build_rows(items)
    has_gold = {q for q, y in zip(qids, labels) if y}
    print(f"{len(items)} questions with a gold sentence, {len(rows)} candidates "
          f"({time.perf_counter() - started:.0f} s); candidate recall {len(has_gold) / len(items):.3f}")

    vec = DictVectorizer()
    x = vec.fit_transform(rows)
    scores = np.zeros(len(rows))
    def fitted(rows_):
        if args.model == "softmax":
            return SoftmaxRanker(C=args.C).fit(x[rows_], labels[rows_], qids[rows_])
        return LogisticRegression(C=args.C, max_iter=2000).fit(x[rows_], labels[rows_])

    for train, test in GroupKFold(n_splits=args.folds).split(x, labels, groups):
        scores[test] = fitted(train).decision_function(x[test])
    thresholds = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    print(f"held out by article ({args.folds} folds over {len(set(groups))} articles):")
    print("| threshold | EM | F1 | with a short answer | EM of those shown |")
    print("|---:|---:|---:|---:|---:|")
    curve = evaluate(scores, labels, qids, texts, items, thresholds)
    for t, em, f, shown, shown_em in curve:
        print(f"| {t:.1f} | {em:.3f} | {f:.3f} | {shown:.3f} | {shown_em:.3f} |")
    # The hand-written rules (language.highlight_span) against the ranker, where the rules give a span.
    best: dict[int, tuple[float, int]] = {}
    for n, (q, sc) in enumerate(zip(qids, scores)):
        if q not in best or sc > best[q][0]:
            best[q] = (sc, n)
    rule_em = ranker_em = with_rule = combined = 0.0
    for qi, item in enumerate(items):
        golds = {normalise_answer(g) for g in item[2]}
        ranker = normalise_answer(texts[best[qi][1]]) in golds if qi in best else False
        rule = rule_span(item[3][0], QuestionView(item[1]))
        if rule:
            with_rule += 1
            hit = normalise_answer(item[3][0][rule[0] : rule[1]]) in golds
            rule_em += hit
            ranker_em += ranker
            combined += hit
        else:
            combined += ranker
    print(f"rules give a span in the best sentence for {with_rule / len(items):.3f} of questions: "
          f"EM there {rule_em / max(with_rule, 1):.3f} (rules) vs {ranker_em / max(with_rule, 1):.3f} (ranker); "
          f"rules first, else the ranker: EM {combined / len(items):.3f}")
    if args.write:
        model = fitted(np.arange(len(labels)))
        coef = model.coef_[0] if args.model == "logistic" else model.coef_
        weights = {name: round(float(w), 5) for name, w in zip(vec.feature_names_, coef) if abs(w) >= 0.005}
        weights["__bias__"] = round(float(model.intercept_[0]), 5) if args.model == "logistic" else 0.0
        threshold = args.threshold if args.threshold is not None else 0.1
        args.out.write_text(
            json.dumps({"fitted_on": args.data.name, "model": args.model, "C": args.C, "threshold": threshold, "weights": weights},
                       indent=0, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {len(weights)} weights to {args.out}")


if __name__ == "__main__":
    main()
