"""Cold start of one system in a fresh process: import, open an existing index, answer one question.

Run by `python -m bench` as `python -m bench.cold ours|baseline INDEX_DIR QUESTION [--fake-embeddings]`;
the parent times the whole process (interpreter start included), this prints the parts as JSON.
Nothing heavy is imported before the clock starts.
"""

import json
import resource
import sys
import time


def main(argv: list[str]) -> None:
    system, index_dir, question = argv[:3]
    fake = "--fake-embeddings" in argv[3:]
    t0 = time.perf_counter()
    from rag.config import Settings
    from rag.embeddings import make_embeddings

    settings = Settings(_env_file=None, index_dir=index_dir, **({"embedding_backend": "fake"} if fake else {}))
    if system == "ours":
        from rag.assistant import Assistant
    else:
        from bench.baseline import TutorialBaseline
    t1 = time.perf_counter()
    if system == "ours":
        runner = Assistant(settings)
    else:
        runner = TutorialBaseline(index_dir, make_embeddings(settings))
    runner.warm_up()  # the model, the index, and (ours) the answering pipeline
    t2 = time.perf_counter()
    answer = runner.ask(question)
    t3 = time.perf_counter()
    print(json.dumps({
        "import_s": round(t1 - t0, 3),
        "open_s": round(t2 - t1, 3),
        "first_answer_s": round(t3 - t2, 3),
        "in_process_s": round(t3 - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "citations": len(answer.citations),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
