"""A reader process for the single-writer tests: asks questions in a loop until told to stop.

Usage: python -m tests.helpers.reader INDEX_DIR STOP_FILE OUT_JSON
Touches OUT_JSON + ".ready" once it has answered a first question (its models loaded), then writes
{"asked": n, "errors": [...], "last": answer-dict-for-the-final-question} to OUT_JSON.
"""

import json
import sys
import time
from pathlib import Path

from rag.assistant import Assistant
from rag.config import Settings


def main() -> None:
    index_dir, stop_file, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    assistant = Assistant(Settings(index_dir=index_dir, embedding_backend="fake", _env_file=None))
    assistant.ask("Who represented the US?")  # loads the models; the writer starts after this
    Path(str(out) + ".ready").touch()
    asked, errors = 0, []
    deadline = time.monotonic() + 240
    while not stop_file.exists() and time.monotonic() < deadline:
        try:
            assistant.ask("Who represented the US?")
        except Exception as exc:  # recorded: the test asserts there are none
            errors.append(f"{type(exc).__name__}: {exc}")
        asked += 1
        time.sleep(0.02)
    final = assistant.ask("What colour is the lantern of harbour 19?")
    out.write_text(json.dumps({"asked": asked, "errors": errors, "last": final.to_dict(),
                               "chunks": assistant.store.count_chunks()}))


if __name__ == "__main__":
    main()
