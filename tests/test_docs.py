"""README stays true to the code: every setting is documented, every documented one exists."""

import re

from rag.config import Settings
from tests.conftest import ROOT


def test_readme_documents_every_setting_and_only_real_ones():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fields = {f"RAG_{name.upper()}" for name in Settings.model_fields}
    documented = set(re.findall(r"`(RAG_[A-Z_]+)", readme))
    assert fields - documented == set(), "settings missing from README"
    assert documented - fields == set(), "README names settings that do not exist"
