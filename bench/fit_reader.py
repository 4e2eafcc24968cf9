"""Fit the reader (`rag/answering/reader.py`) on SQuAD-format questions, validated by article.

1. `items`: every question of the files is asked of the extractive answerer (its own index of
   the file's articles, the default settings); its `--k` best sentences, with their evidence, are
   what the reader learns to choose among, exactly as it will at answer time.
2. `fit`: low-rank adapters (peft's LoRA) on all-MiniLM-L6-v2 and three small heads, trained with
   two losses: where the short answer starts and ends in a sentence that holds a gold answer, and
   one softmax per question over its sentences and a learned "none" (the answer of an
   unanswerable SQuAD 2.0 question, weighted `--impossible-weight`). With `--folds N` the articles
   are split into N groups (each holding one SQuAD 2.0 article when there are enough), a reader is
   fitted without each group and its readings of that group's questions are written to
   `--predictions` (and each fold's reader to `--save-folds`, for `bench.spans --reader`): every
   figure reported from them is on articles the fit never saw. With `--write` the reader is
   fitted on every article and saved to `rag/answering/reader_weights.safetensors`.
3. `report`: from held-out predictions, EM / F1 of the short answer, whether the chosen sentence
   holds a gold answer, and the share of unanswerable questions refused at 2 / 5 / 10 % false
   refusals. `calibrate` stores the refusal threshold on P(none) with the weights: the one that
   refuses `--rate` of the answerable held-out questions.
4. `choose`: from held-out readings with their features (`predict` writes them from a fold's saved
   reader), a linear chooser of the sentence to answer from (`reader.Chooser`), stored with the
   weights; with the readings of two or more folds it also reports itself fitted on the other
   folds and measured on each, against the switch ratio.

Run (about 55 minutes a fit on 2 idle cores; two folds side by side with one thread each took
about an hour together; `--checkpoint DIR` keeps the fit so far, and the same command run again
resumes it, so a fit may span sessions, `--stop-after N` ending a run after N steps):
    python -m bench.fit_reader items --out /tmp/reader/items.jsonl
    python -m bench.fit_reader fit --items /tmp/reader/items.jsonl --folds 2 --only-fold 0 --threads 1 \
        --predictions /tmp/reader/heldout2-0.jsonl --save-folds /tmp/reader/folds2   # and --only-fold 1 beside it
    python -m bench.fit_reader report --items /tmp/reader/items.jsonl --predictions /tmp/reader/heldout2.jsonl
    python -m bench.fit_reader fit --items /tmp/reader/items.jsonl --write
    python -m bench.fit_reader calibrate --items /tmp/reader/items.jsonl --predictions /tmp/reader/heldout2.jsonl \
        --threshold T --rate R [--read N]   # T and N from `bench.spans --pool` over the folds
    python -m bench.fit_reader predict --items /tmp/reader/items.jsonl --weights /tmp/reader/folds2/fold3-K.safetensors \
        --out /tmp/reader/pred2-K.jsonl                                          # K = 0, 1
    python -m bench.fit_reader choose --items /tmp/reader/items.jsonl \
        --predictions /tmp/reader/pred2-0.jsonl /tmp/reader/pred2-1.jsonl        # the shipped reader's
    python -m bench.fit_reader choose --items /tmp/reader/items.jsonl --predictions /tmp/reader/pred2-1.jsonl \
        --weights /tmp/reader/folds2/fold3-0.safetensors                        # a fold's, from the other fold's
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.answering.extractive import SWITCH_RATIO
from rag.answering.reader import (
    EVIDENCE,
    MAX_TOKENS,
    WEIGHTS,
    Chooser,
    Reader,
    base_model_dir,
    choice_features,
    evidence_row,
    network,
)
from rag.text import answer_f1, normalise_answer

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
FILES = [EVAL / "squad_v1_public.jsonl", EVAL / "squad_v2_public.jsonl"]
TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]


# --- 1. what the answerer offers the reader -------------------------------------------------------

def make_items(paths: list[Path], k: int, out: Path) -> None:
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embeddings import OnnxEmbeddings
    from rag.evaluate import load_file
    from rag.types import Article

    with out.open("w", encoding="utf-8") as f:
        for path in paths:
            raw, questions = load_file(path)
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            meta = {q["id"]: (row["title"], q) for row in rows for q in row["questions"]}
            index = Path(tempfile.mkdtemp(prefix="rag-reader-")) / "index"
            assistant = Assistant(Settings(_env_file=None, index_dir=index), embeddings=OnnxEmbeddings())
            assistant.index_articles(Article(id=a["id"], title=a["title"], source="bench", text=a["text"]) for a in raw)
            pipeline = assistant._answer_pipeline()
            for q in questions:
                ctx = pipeline.context(q.question)
                cands = pipeline.answerer.candidates(ctx.search, ctx.hits, ctx.corpus, ctx.query_vector)[:k]
                title, row = meta[q.id]
                f.write(json.dumps({
                    "id": q.id, "file": path.name, "title": title, "question": q.question,
                    "answers": row.get("answers", []), "impossible": bool(row.get("is_impossible")),
                    "cands": [{"text": ctx.corpus.sentence_text(c.article_id, c.index),
                               "evidence": evidence_row(c.score, c.lexical, c.dense, c.type_match, c.context, r)}
                              for r, c in enumerate(cands)],
                }) + "\n")
            print(f"{path.name}: {len(questions)} questions", flush=True)


def load_items(path: Path, k: int) -> list[dict]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for it in items:
        it["cands"] = it["cands"][:k]
    return [it for it in items if it["cands"]]


def folds_of(items: list[dict], n: int) -> dict[str, int]:
    """Article title -> fold; SQuAD 2.0 articles spread one a fold so each fold measures refusals."""
    v2 = sorted({it["title"] for it in items if it["file"].startswith("squad_v2")})
    rest = sorted({it["title"] for it in items} - set(v2))
    random.Random(0).shuffle(rest)
    fold = {t: i % n for i, t in enumerate(v2)}
    fold.update({t: (len(v2) + i) % n for i, t in enumerate(rest)})
    return fold


def gold_span(item: dict, text: str) -> tuple[int, int] | None:
    """Where the most often given gold answer first appears in the sentence, if it does."""
    if item["impossible"]:
        return None
    golds = [g for g in item["answers"] if g.strip()]
    for g in sorted(dict.fromkeys(golds), key=lambda g: -golds.count(g)):
        at = text.find(g)
        if at >= 0:
            return at, at + len(g)
    return None


# --- 2. fitting ------------------------------------------------------------------------------------

def _encode(tokenizer, items: list[dict]):
    import torch

    pairs = [(it, c) for it in items for c in it["cands"]]
    enc = tokenizer([it["question"] for it, _ in pairs], [c["text"] for _, c in pairs], truncation="longest_first",
                    max_length=MAX_TOKENS, padding=True, return_offsets_mapping=True, return_tensors="pt")
    evidence = torch.tensor([c["evidence"] for _, c in pairs], dtype=torch.float32)
    return pairs, enc, evidence


def _token_targets(enc, pairs):
    """Start and end token of each pair's gold span (0 where the sentence holds none)."""
    starts, ends = [], []
    for b, (it, c) in enumerate(pairs):
        span = gold_span(it, c["text"])
        s_tok = e_tok = 0
        if span:
            seq, offsets = enc.sequence_ids(b), enc["offset_mapping"][b].tolist()
            inside = [i for i, (a, z) in enumerate(offsets) if seq[i] == 1 and a < span[1] and z > span[0]]
            if inside:
                s_tok, e_tok = inside[0], inside[-1]
        starts.append(s_tok)
        ends.append(e_tok)
    return starts, ends


def _recipe(train: list[dict], args) -> dict:
    """What a checkpoint must have been fitted with to be resumed: the questions and the settings."""
    return {"questions": len(train), "first": train[0]["id"] if train else None, "epochs": args.epochs,
            "lr": args.lr, "lora_r": args.lora_r, "questions_per_step": args.questions_per_step,
            "impossible_weight": args.impossible_weight, "seed": args.seed}


def fit(train: list[dict], args, tokenizer, checkpoint: Path | None = None):
    """The fitted network; None where `args.stop_after` steps were taken before the end, with the
    fit so far in `checkpoint` to resume from (a fit takes about an hour: it may span sessions).

    Written by hand rather than with transformers' Trainer: one step is a softmax per question over
    its sentences and "none" beside the span loss, which Trainer's per-example batches do not hold;
    a checkpoint is the adapters, the optimiser, the schedule and the random state, so a resumed
    fit takes the very steps an uninterrupted one would."""
    import torch
    from peft import LoraConfig, get_peft_model
    from torch import nn
    from transformers import AutoModel

    torch.manual_seed(args.seed)
    encoder = get_peft_model(
        AutoModel.from_pretrained(str(base_model_dir())),
        LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.1, target_modules=TARGETS),
    )
    net = network(encoder, len(EVIDENCE))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = math.ceil(len(train) / args.questions_per_step) * args.epochs
    warm = max(1, int(0.1 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / warm) * max(0.0, (steps - s) / (steps - warm)))
    ce = nn.CrossEntropyLoss(reduction="none")
    recipe = _recipe(train, args)
    step = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        if state["recipe"] != recipe:
            raise SystemExit(f"{checkpoint} was fitted with {state['recipe']}, not {recipe}: "
                             "remove it or give another --checkpoint folder")
        net.load_state_dict(state["trained"], strict=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        step = state["step"]
        print(f"  resumed at step {step}/{steps} from {checkpoint}", flush=True)
    net.train()
    resumed, position, started = step, 0, time.perf_counter()
    for epoch in range(args.epochs):
        order = train[:]
        random.Random(args.seed + epoch).shuffle(order)
        for at in range(0, len(order), args.questions_per_step):
            position += 1
            if position <= resumed:
                continue  # taken before the checkpoint
            group = order[at : at + args.questions_per_step]
            pairs, enc, evidence = _encode(tokenizer, group)
            s_tok, e_tok = _token_targets(enc, pairs)
            start, end, logit = net(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"], evidence)
            pad = enc["attention_mask"] == 0
            start, end = start.masked_fill(pad, -1e4), end.masked_fill(pad, -1e4)
            has = torch.tensor([float(s > 0) for s in s_tok])
            span_loss = ((ce(start, torch.tensor(s_tok)) + ce(end, torch.tensor(e_tok))) / 2 * has).sum() / has.sum().clamp(min=1)
            # One softmax per question over "none" and its sentences.
            choice_loss, weight, row = 0.0, 0.0, 0
            for it in group:
                n = len(it["cands"])
                logits = torch.cat([net.null, logit[row : row + n]])
                right = [0] if it["impossible"] else [1 + j for j in range(n) if has[row + j] > 0]
                row += n
                if not right:
                    continue  # answerable, but the answerer's sentences miss the answer: nothing to learn
                w = args.impossible_weight if it["impossible"] else 1.0
                choice_loss = choice_loss + w * (torch.logsumexp(logits, 0) - torch.logsumexp(logits[right], 0))
                weight += w
            loss = span_loss + (choice_loss / weight if weight else 0.0)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 100 == 0:
                print(f"  step {step}/{steps} loss {loss.item():.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
            stopping = bool(args.stop_after) and step - resumed >= args.stop_after and step < steps
            if checkpoint is not None and (step % args.checkpoint_every == 0 or stopping):
                _save_checkpoint(checkpoint, net, opt, sched, step, recipe)
            if stopping:
                print(f"  stopped at step {step}/{steps}; run the same command again to resume", flush=True)
                return None
    net.eval()
    return net


def _save_checkpoint(path: Path, net, opt, sched, step: int, recipe: dict) -> None:
    """The fit so far (trained parameters only: the base model is the packaged one), written to a
    temporary file and renamed, so a fit killed while saving keeps its last checkpoint."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"trained": {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad},
             "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
             "step": step, "recipe": recipe}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save(net, path: Path, args, extra: dict | None = None) -> None:
    """The adapters (A, B of each adapted layer) and the heads, float16, with what loading needs."""
    from safetensors.torch import save_file

    tensors = {}
    for name, p in net.named_parameters():
        if "lora_A" in name or "lora_B" in name:
            # encoder.base_model.model.encoder.layer.0.attention.self.query.lora_A.default.weight
            module = name.split("base_model.model.", 1)[1].split(".lora_")[0]
            tensors[f"lora.{module}.{'A' if 'lora_A' in name else 'B'}"] = p.detach().half().contiguous()
        elif not name.startswith("encoder."):
            tensors[f"heads.{name}"] = p.detach().float().contiguous()
    meta = {"lora_r": args.lora_r, "lora_alpha": 2 * args.lora_r, "targets": TARGETS, "evidence": list(EVIDENCE),
            "k": args.k, **(extra or {})}
    save_file(tensors, str(path), metadata={"reader": json.dumps(meta)})


def predict(reader: Reader, items: list[dict]) -> list[dict]:
    """The reader's readings of `items`: P(none), each sentence's probability, span and what the
    `Chooser` weighs of it."""
    out = []
    for it in items:
        readings = reader.read(it["question"], [c["text"] for c in it["cands"]], [c["evidence"] for c in it["cands"]])
        p_none, p = reader.probabilities(readings)
        out.append({"id": it["id"], "file": it["file"], "p_none": p_none, "p": p,
                    "spans": [c["text"][r.start : r.end] for c, r in zip(it["cands"], readings)],
                    "features": [choice_features(r, c["evidence"], k == 0)
                                 for k, (c, r) in enumerate(zip(it["cands"], readings))]})
    return out


# --- 3. held-out figures ---------------------------------------------------------------------------

def judged(item: dict, sentence: str, span: str) -> tuple[float, float, float]:
    """Whether `sentence` holds one of `item`'s gold answers, and `span`'s EM and F1 against them
    (SQuAD's normalisation)."""
    golds = [normalise_answer(g) for g in item["answers"] if normalise_answer(g)]
    return (float(any(g in normalise_answer(sentence) for g in golds)), float(normalise_answer(span) in golds),
            max((answer_f1(span, g) for g in item["answers"]), default=0.0))


def chosen(p: list[float], ratio: float) -> int:
    """The sentence answered from: the reader's likeliest, when it is `ratio` times as likely as
    the answerer's best-scored one (index 0), else that one (`extractive.SWITCH_RATIO`)."""
    k = int(np.argmax(p))
    return k if p[k] >= ratio * p[0] else 0


# 1: the reader's choice; inf: the answerer's; and the ratio the answerer uses.
SWITCH_RATIOS = tuple(sorted({1.0, 1.5, 2.0, SWITCH_RATIO, 5.0, math.inf}))


def report(items: list[dict], predictions: list[dict]) -> dict:
    by_key = {(it["file"], it["id"]): it for it in items}
    result = {}
    for file in sorted({p["file"] for p in predictions}):
        rows = [(by_key[(p["file"], p["id"])], p) for p in predictions if p["file"] == file]
        answerable = [(it, p) for it, p in rows if not it["impossible"]]
        impossible = [(it, p) for it, p in rows if it["impossible"]]
        n = max(len(answerable), 1)
        r = {"answerable": len(answerable), "unanswerable": len(impossible)}
        # EM / F1 of the short answer and whether its sentence holds a gold answer, by switch ratio.
        for ratio in SWITCH_RATIOS:
            em = f = held = 0.0
            for it, p in answerable:
                k = chosen(p["p"], ratio)
                holds, exact, overlap = judged(it, it["cands"][k]["text"], p["spans"][k])
                em, f, held = em + exact, f + overlap, held + holds
            r[f"switch_ratio_{ratio:g}"] = {"em": round(em / n, 3), "f1": round(f / n, 3),
                                           "sentence_holds_gold": round(held / n, 3)}
        if impossible:
            none_answerable = sorted(p["p_none"] for _, p in answerable)
            for rate in (0.02, 0.05, 0.10):
                t = none_answerable[min(len(none_answerable) - 1, int((1 - rate) * len(none_answerable)))]
                r[f"refused_at_{int(rate * 100)}pct_false"] = round(sum(p["p_none"] > t for _, p in impossible) / len(impossible), 3)
                r[f"p_none_threshold_{int(rate * 100)}pct"] = round(t, 4)
        result[file] = r
    return result


# --- 4. the choice of sentence ---------------------------------------------------------------------

def choice_rows(items: list[dict], predictions: list[dict], read: int) -> list[tuple[np.ndarray, np.ndarray, list]]:
    """For each answerable question, its first `read` sentences as the chooser sees them: their
    features, whether each holds a gold answer, and each span's (EM, F1)."""
    by_key = {(it["file"], it["id"]): it for it in items}
    rows = []
    for p in predictions:
        it = by_key[(p["file"], p["id"])]
        if it["impossible"] or "features" not in p:
            continue
        marks = [judged(it, c["text"], span) for c, span in zip(it["cands"][:read], p["spans"][:read])]
        rows.append((np.asarray(p["features"][:read], dtype=np.float64), np.asarray([m[0] for m in marks]),
                     [m[1:] for m in marks]))
    return rows


def fit_chooser(rows, l2: float = 0.01, steps: int = 400, rate: float = 0.05) -> Chooser:
    """A linear chooser fitted by one softmax per question over its sentences, whose target is
    spread over the sentences holding a gold answer (questions with none teach nothing). Written
    with numpy: scikit-learn's logistic regression fits one label a row, not a choice among a
    question's sentences, and is not otherwise a dependency."""
    allx = np.concatenate([x for x, _, _ in rows])
    mean, scale = allx.mean(0), allx.std(0) + 1e-6
    w = np.zeros(allx.shape[1])
    useful = [((x - mean) / scale, y / y.sum()) for x, y, _ in rows if y.sum() > 0]
    for _ in range(steps):
        grad = np.zeros_like(w)
        for z, target in useful:
            s = z @ w
            p = np.exp(s - s.max())
            grad += z.T @ (p / p.sum() - target)
        w -= rate * (grad / len(useful) + l2 * w)
    return Chooser(tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()))


def choice_figures(rows, pick) -> dict:
    """Held-out figures of a way to choose (`pick(features) -> index`): the chosen sentence holds a
    gold answer, and its span's EM / F1."""
    held = em = f1 = 0.0
    for x, y, scored in rows:
        k = pick(x)
        held += y[k]
        em += scored[k][0]
        f1 += scored[k][1]
    n = max(len(rows), 1)
    return {"sentence_holds_gold": round(held / n, 4), "em": round(em / n, 4), "f1": round(f1 / n, 4)}


def by_ratio(ratio: float):
    """The choice without a chooser: the reader's likeliest by its logit, where `ratio` times as
    likely as the best-scored sentence (`extractive.SWITCH_RATIO`)."""
    def pick(x):
        logits = x[:, 0]
        p = np.exp(logits - logits.max())
        return chosen(list(p / p.sum()), ratio)
    return pick


def by_chooser(chooser: Chooser):
    return lambda x: int(np.argmax(chooser.scores(x.tolist())))


def choose(items: list[dict], predictions: list[dict], weights: list[Path], read: int) -> None:
    """Fit the chooser on `predictions` (held-out readings) and store it with each of `weights`.
    Where the predictions come from more than one fold, also report it fitted on the other folds
    and measured on each (the held-out figure), against the switch ratio."""
    folds = sorted({p.get("fold", 0) for p in predictions})
    figures: dict = {}
    if len(folds) > 1:
        pooled = {"chooser": [], "switch_ratio": []}
        for k in folds:
            train = choice_rows(items, [p for p in predictions if p.get("fold", 0) != k], read)
            test = choice_rows(items, [p for p in predictions if p.get("fold", 0) == k], read)
            pooled["chooser"].append((len(test), choice_figures(test, by_chooser(fit_chooser(train)))))
            pooled["switch_ratio"].append((len(test), choice_figures(test, by_ratio(SWITCH_RATIO))))
        for name, parts in pooled.items():
            n = sum(m for m, _ in parts)
            figures[name] = {key: round(sum(m * f[key] for m, f in parts) / n, 4) for key in parts[0][1]}
        figures["answerable"] = n
        print(json.dumps(figures, indent=1))
    chooser = fit_chooser(choice_rows(items, predictions, read))
    for path in weights:
        update_meta(path, choice={**chooser.to_meta(), "read": read, "heldout": figures})
        print(f"{path}: chooser stored, weights {[round(w, 3) for w in chooser.weights]}")


def update_meta(weights: Path, **changes) -> dict:
    """Rewrite the weights' metadata with `changes` (a value of None removes its key); the metadata."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(weights), framework="pt") as f:
        meta = json.loads(f.metadata()["reader"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    save_file(tensors, str(weights), metadata={"reader": json.dumps(meta)})
    return meta


def calibrate(weights: Path, threshold: float, rate: float, figures: dict, read: int | None = None) -> None:
    """Store the refusal threshold (and the held-out figures it came from) and how many sentences
    to read when answering in the weights' metadata."""
    meta = update_meta(weights, threshold=threshold, threshold_false_refusals=rate, heldout=figures, read=read)
    print(f"{weights}: reads {meta.get('read', meta['k'])} sentences; refuse when P(none) > {threshold:.4f}")


def threshold_for(items: list[dict], predictions: list[dict], rate: float) -> float:
    """The P(none) above which only `rate` of the answerable held-out questions are refused."""
    answerable = {(it["file"], it["id"]) for it in items if not it["impossible"]}
    p = sorted(x["p_none"] for x in predictions if (x["file"], x["id"]) in answerable)
    return float(p[min(len(p) - 1, int((1 - rate) * len(p)))])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.fit_reader", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("items")
    a.add_argument("--data", type=Path, nargs="+", default=FILES)
    a.add_argument("--k", type=int, default=8)
    a.add_argument("--out", type=Path, required=True)
    b = sub.add_parser("fit")
    b.add_argument("--items", type=Path, required=True)
    b.add_argument("--k", type=int, default=6, help="sentences per question the reader chooses among")
    b.add_argument("--folds", type=int, default=0, help="0: fit on every article")
    b.add_argument("--only-fold", type=int, nargs="*", default=None)
    b.add_argument("--predictions", type=Path, default=None)
    b.add_argument("--epochs", type=int, default=2)
    b.add_argument("--lr", type=float, default=3e-4)
    b.add_argument("--lora-r", type=int, default=16)
    b.add_argument("--questions-per-step", type=int, default=4)
    b.add_argument("--impossible-weight", type=float, default=2.0)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                   help="torch threads (two folds side by side with 1 each use 2 cores better than one with 2)")
    b.add_argument("--write", action="store_true", help=f"save the fit on every article to {WEIGHTS.name}")
    b.add_argument("--out", type=Path, default=WEIGHTS)
    b.add_argument("--save-folds", type=Path, default=None, help="a folder for each fold's reader (fold-K.safetensors)")
    b.add_argument("--checkpoint", type=Path, default=None,
                   help="a folder for the fit so far (all.pt, fold-K.pt), resumed from when the command runs again")
    b.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    b.add_argument("--stop-after", type=int, default=0, help="stop after this many steps this run (with --checkpoint)")
    d = sub.add_parser("predict", help="a saved fold's reader's readings of its held-out questions")
    d.add_argument("--items", type=Path, required=True)
    d.add_argument("--k", type=int, default=6)
    d.add_argument("--weights", type=Path, required=True, help="a fold's reader (fit --save-folds)")
    d.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("choose", help="fit the sentence chooser on held-out readings; store it with --weights")
    e.add_argument("--items", type=Path, required=True)
    e.add_argument("--k", type=int, default=6)
    e.add_argument("--predictions", type=Path, nargs="+", required=True)
    e.add_argument("--weights", type=Path, nargs="+", default=[WEIGHTS])
    e.add_argument("--read", type=int, default=3, help="sentences read when answering")
    for name in ("report", "calibrate"):
        c = sub.add_parser(name)
        c.add_argument("--items", type=Path, required=True)
        c.add_argument("--k", type=int, default=6)
        c.add_argument("--predictions", type=Path, required=True)
        c.add_argument("--rate", type=float, default=0.05, help="false refusals allowed (calibrate)")
        c.add_argument("--weights", type=Path, default=WEIGHTS, help="the reader to calibrate")
        c.add_argument("--threshold", type=float, default=None,
                       help="store this threshold instead (e.g. read off `bench.spans --pool ... --sweep`, where "
                            "the answerer's other refusals count too), with --rate the false refusals it gave")
        c.add_argument("--read", type=int, default=None,
                       help="sentences read when answering (default: --k); `bench.spans --sentences` measures it")
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.cmd == "items":
        make_items(args.data, args.k, args.out)
        return
    items = load_items(args.items, args.k)
    if args.cmd == "predict":
        reader = Reader(args.weights)
        reader.warm_up()
        fold, held = reader.meta.get("fold", 0), set(reader.meta.get("held_out") or ())
        with args.out.open("w", encoding="utf-8") as out:
            for row in predict(reader, [it for it in items if it["title"] in held]):
                out.write(json.dumps({**row, "fold": fold}) + "\n")
        return
    if args.cmd == "choose":
        preds = [json.loads(line) for path in args.predictions for line in path.read_text(encoding="utf-8").splitlines()]
        choose(items, preds, args.weights, args.read)
        return
    if args.cmd in ("report", "calibrate"):
        preds = [json.loads(line) for line in args.predictions.read_text(encoding="utf-8").splitlines()]
        figures = report(items, preds)
        print(json.dumps(figures, indent=1))
        if args.cmd == "calibrate":
            threshold = args.threshold if args.threshold is not None else threshold_for(items, preds, args.rate)
            calibrate(args.weights, threshold, args.rate, figures, args.read)
        return

    if args.stop_after and not args.checkpoint:
        ap.error("--stop-after needs --checkpoint: the fit so far is kept there")
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()))
    if args.folds:
        fold = folds_of(items, args.folds)
        wanted = range(args.folds) if args.only_fold is None else args.only_fold
        with (args.predictions or Path(os.devnull)).open("a", encoding="utf-8") as out:
            for k in wanted:
                train = [it for it in items if fold[it["title"]] != k]
                held = [it for it in items if fold[it["title"]] == k]
                print(f"fold {k}: fitted on {len(train)} questions, measured on {len(held)}", flush=True)
                net = fit(train, args, tokenizer, args.checkpoint / f"fold-{k}.pt" if args.checkpoint else None)
                if net is None:
                    return  # stopped early: resumed from the checkpoint next time
                if args.save_folds:
                    args.save_folds.mkdir(parents=True, exist_ok=True)
                    save(net, args.save_folds / f"fold-{k}.safetensors", args,
                         {"fold": k, "held_out": sorted(t for t, f in fold.items() if f == k)})
                for row in predict(Reader.from_network(net, tokenizer), held):
                    out.write(json.dumps({**row, "fold": k}) + "\n")
                out.flush()
        return
    net = fit(items, args, tokenizer, args.checkpoint / "all.pt" if args.checkpoint else None)
    if net is None:
        return
    if args.write:
        save(net, args.out, args)
        print(f"wrote {args.out}; now `calibrate` it from held-out predictions")


if __name__ == "__main__":
    main()
