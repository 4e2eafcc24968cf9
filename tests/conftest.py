"""Shared fixtures: a scratch index with the deterministic fake embedding, and the real model for `slow` tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.site import local_site  # noqa: F401 - a fixture shared by several test files

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "paris-summit-on-ukraine.md"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture
def shared_eval():
    """../shared/eval (beside the repository in CI); tests that need it skip elsewhere."""
    if not (SHARED_EVAL / "dev_article.jsonl").exists():
        pytest.skip(f"{SHARED_EVAL} is not present (CI puts ../shared beside the repository)")
    return SHARED_EVAL


@pytest.fixture
def settings(tmp_path):
    from rag.config import Settings

    return Settings(index_dir=tmp_path / "index", embedding_backend="fake", _env_file=None)


@pytest.fixture
def assistant(settings):
    from rag.assistant import Assistant

    return Assistant(settings)


@pytest.fixture
def seeded(assistant):
    report = assistant.index(SEED)
    assert report.added, report.failed
    return assistant


@pytest.fixture(scope="session")
def real_embeddings():
    from rag.embeddings import OnnxEmbeddings

    model = OnnxEmbeddings()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def real_seeded(tmp_path_factory, real_embeddings):
    """The seed article indexed with the real model, shared by the slow tests."""
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(index_dir=tmp_path_factory.mktemp("real") / "index", _env_file=None)
    assistant = Assistant(settings, embeddings=real_embeddings)
    assistant.index(SEED)
    return assistant


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
