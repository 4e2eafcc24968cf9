"""`import rag` stays cheap: heavy libraries load on first use."""

import subprocess
import sys


def test_import_rag_does_not_import_heavy_libraries():
    code = (
        "import sys, rag, rag.cli, rag.assistant, rag.index, rag.answering.pipeline, rag.http.app\n"
        "heavy = [m for m in ('torch', 'chromadb', 'gradio', 'onnxruntime', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
