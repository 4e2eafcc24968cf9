"""The offline embedding backends (slow: they load the real model from its PyPI package)."""

import numpy as np
import pytest

from rag.embeddings import HashingEmbeddings


def test_fake_embeddings_are_deterministic_and_unit_length():
    model = HashingEmbeddings()
    a, b = model.encode(["the same text", "the same text"])
    assert np.allclose(a, b) and abs(np.linalg.norm(a) - 1) < 1e-5
    assert model.embed_query("x") == model.embed_documents(["x"])[0]


@pytest.mark.slow
def test_onnx_model_understands_meaning(real_embeddings):
    q, near, far = real_embeddings.encode(
        ["Who represented the United States?", "The US sent a deputy secretary of state.", "Bananas are yellow."]
    )
    assert q.shape == (384,)
    assert float(q @ near) > float(q @ far) + 0.2


@pytest.mark.slow
def test_onnx_and_torch_backends_agree(real_embeddings):
    from rag.embeddings import SentenceTransformerEmbeddings

    texts = ["Macron hosted the summit in Paris.", "Germany will not deliver Taurus missiles."]
    model = SentenceTransformerEmbeddings()
    name_before_loading = model.name
    torch_vecs = model.encode(texts)
    # The name is recorded with the index: a process that has loaded the model and one that has
    # not must agree on it, or every write is refused as "another model".
    assert model.name == name_before_loading == "sentence-transformers:all-MiniLM-L6-v2"
    onnx_vecs = real_embeddings.encode(texts)
    assert (torch_vecs * onnx_vecs).sum(axis=1).min() > 0.99


def test_an_onnx_model_file_is_named_by_its_file(tmp_path):
    from rag.embeddings import OnnxEmbeddings

    assert OnnxEmbeddings(tmp_path / "my-model.onnx").name == "onnx:my-model.onnx"
    assert OnnxEmbeddings().name != OnnxEmbeddings(tmp_path / "my-model.onnx").name


@pytest.mark.slow
def test_onnx_threads_do_not_spin_after_a_run(real_embeddings):
    # Spinning workers took a core from the reader that runs right after a question is embedded
    # (the reader ~2x slower: docs/benchmarks.md).
    options = real_embeddings._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
