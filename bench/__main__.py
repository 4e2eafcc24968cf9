"""`python -m bench`: our pipeline vs the LangChain RAG tutorial recipe, side by side, plus our scale curve.

Both systems index the same articles with the same embedding model (all-MiniLM-L6-v2 int8 ONNX)
into scratch indexes (never ./index) and answer the same questions; the same `score_answer` scores
both. Every measurement runs in a fresh process of its own (bench/runner.py, bench/cold.py), one at
a time, so memory figures are per system and the two never compete for the CPU.

    python -m bench --quick         # dev set + 100 SQuAD 2.0 questions, scale 1 and 10 articles, < 2 min
    python -m bench                 # 1,000 questions a file (dev set whole), scale 1-1,000 articles, < 20 min
    python -m bench --data my.jsonl --articles my-articles/ --no-scale

Results: bench/out/bench[-quick].json (+ .md tables, per-question outcomes); plots: docs/ for a
full run, the output folder otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
SEED = ROOT / "seeds" / "paris-summit-on-ukraine.md"
SYSTEMS = ("ours", "baseline")
DEFAULT_DATA = [EVAL / "dev_article.jsonl", EVAL / "squad_v1_public.jsonl", EVAL / "squad_v2_public.jsonl"]
QUICK_DATA = [EVAL / "dev_article.jsonl", EVAL / "squad_v2_public.jsonl"]


class BenchError(Exception):
    """A step failed; the message says which and where its output is."""


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> str | None:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return None


def child_env() -> dict[str, str]:
    """This environment without `RAG_*` settings (every system runs with the defaults), offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    return env


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_job(args: list[str], result: Path) -> dict[str, Any]:
    """Run one `bench.runner` job in a fresh process (its progress bars go to this terminal)."""
    cmd = [sys.executable, "-m", "bench.runner", *args, "--result", str(result)]
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, check=False)
    if proc.returncode != 0 or not result.exists():
        raise BenchError(f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}); its error is above.")
    return json.loads(result.read_text(encoding="utf-8"))


def cold_start(system: str, index_dir: Path, question: str, fake: bool) -> dict[str, Any]:
    """One fresh process: interpreter + imports + open the index + first answer, timed from outside."""
    cmd = [sys.executable, "-m", "bench.cold", system, str(index_dir), question] + (["--fake-embeddings"] if fake else [])
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchError(f"Cold start of {system} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    parts = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": round(wall, 3), **parts}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "import_s", "open_s", "first_answer_s", "in_process_s")
    out = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    out["wall_s_min"] = min(r["wall_s"] for r in runs)
    out["wall_s_max"] = max(r["wall_s"] for r in runs)
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["runs"] = len(runs)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="A run under 2 minutes: a sample of the questions, scale 1 and 10.")
    ap.add_argument("--data", type=Path, nargs="+", default=None,
                    help="Question files (either format of ../shared/eval/README.md). Default: the three shared files "
                         "(--quick: dev_article and squad_v2_public).")
    ap.add_argument("--articles", nargs="+", default=[str(SEED)],
                    help="Articles that files of questions without articles ask about (default: the seed article).")
    ap.add_argument("--limit", type=int, default=None,
                    help="Questions per file, a seeded sample (default 1000; --quick: 100; 0: all).")
    ap.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    ap.add_argument("--scale", type=int, nargs="+", default=None,
                    help="Article counts of the scale curve (default 1 10 100 500 1000; --quick: 1 10).")
    ap.add_argument("--no-scale", action="store_true", help="Skip the scale curve.")
    ap.add_argument("--scale-data", type=Path, default=EVAL / "squad_v1_public.jsonl",
                    help="SQuAD-format file whose articles the scale curve repeats.")
    ap.add_argument("--scale-distinct", type=int, default=None,
                    help="Distinct articles the scale curve repeats (default: all of --scale-data; --quick: 2).")
    ap.add_argument("--scale-questions", type=int, default=None, help="Timed questions per scale point (default 200; --quick 30).")
    ap.add_argument("--cold-runs", type=int, default=None, help="Fresh processes per system for cold start (default 3; --quick 1).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fake-embeddings", action="store_true", help="Hashing vectors instead of the model (tests only).")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="Folder of the JSON and Markdown results.")
    ap.add_argument("--plots", type=Path, default=None,
                    help="Folder of the PNG plots (default: docs/ for a full run with the real model, else --out).")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--keep", action="store_true", help="Keep the scratch indexes (their folder is printed).")
    args = ap.parse_args(argv)
    args.data = args.data or (QUICK_DATA if args.quick else DEFAULT_DATA)
    if args.limit is None:
        # 1,000 sampled questions a file, like the reference figures (../shared/eval/README.md).
        args.limit = 100 if args.quick else 1000
    if args.limit == 0:
        args.limit = None
    args.scale = [] if args.no_scale else (args.scale or ([1, 10] if args.quick else [1, 10, 100, 500, 1000]))
    if args.scale_distinct is None and args.quick:
        args.scale_distinct = 2
    args.scale_questions = args.scale_questions or (30 if args.quick else 200)
    args.cold_runs = args.cold_runs or (1 if args.quick else 3)
    if args.plots is None:
        args.plots = args.out if (args.quick or args.fake_embeddings) else ROOT / "docs"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for path in args.data:
        if not path.exists():
            log(f"'{path}' does not exist: give question files with --data.")
            return 2
    if args.scale and not args.scale_data.exists():
        log(f"'{args.scale_data}' does not exist: give --scale-data or --no-scale.")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "bench-quick" if args.quick else "bench"
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    started = time.perf_counter()
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {
        "meta": {
            "command": command.strip(),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine_info(),
            "embedding": "hashing (fake)" if args.fake_embeddings else "all-MiniLM-L6-v2 int8 ONNX (rag.embeddings.OnnxEmbeddings)",
            "quick": args.quick,
            "limit": args.limit,
            "seed": args.seed,
        },
        "files": [p.name for p in args.data],
        "systems": {s: {"files": {}, "cold_start": None} for s in args.systems},
        "scale": None,
    }
    fake = ["--fake-embeddings"] if args.fake_embeddings else []
    total = len(args.data) * len(args.systems) + (1 if args.cold_runs else 0) + (len(args.scale) + 1 if args.scale else 0)
    step = 0

    def begin(what: str) -> float:
        nonlocal step
        step += 1
        log(f"[{step}/{total}] {what} …")
        return time.perf_counter()

    try:
        index_dirs: dict[tuple[str, str], Path] = {}
        for data in args.data:
            for system in args.systems:
                t = begin(f"{system} on {data.name}")
                index_dir = work / f"{system}-{data.stem}"
                job = ["eval", "--system", system, "--data", str(data), "--index-dir", str(index_dir),
                       "--seed", str(args.seed), "--outcomes", str(args.out / f"{stem}-{system}-{data.stem}.jsonl"), *fake]
                if args.articles:
                    job += ["--articles", *[str(Path(a).resolve()) for a in args.articles]]
                if args.limit is not None:
                    job += ["--limit", str(args.limit)]
                r = run_job(job, work / f"{system}-{data.stem}.json")
                result["systems"][system]["files"][data.name] = r
                index_dirs[(system, data.name)] = index_dir
                m = r["metrics"]
                log(f"    {r['chunks']} chunks in {r['index_seconds']:.1f} s; recall@1 {m['support_recall@1']}, "
                    f"hit {m['answer_hit_rate']}, p50 {m['latency_p50_ms']} ms ({time.perf_counter() - t:.0f} s)")

        if args.cold_runs and args.systems:
            t = begin(f"cold start, {args.cold_runs} fresh process(es) per system")
            first = args.systems[0]
            biggest = max(result["systems"][first]["files"].values(), key=lambda r: r["chunks"])
            question = biggest["first_question"] or "What is this article about?"
            runs: dict[str, list] = {s: [] for s in args.systems}
            for _ in range(args.cold_runs):
                for system in args.systems:  # interleaved, so a busy moment hits both
                    runs[system].append(cold_start(system, index_dirs[(system, biggest["file"])], question, args.fake_embeddings))
            for system in args.systems:
                cold = median_run(runs[system])
                cold["index_of"] = biggest["file"]
                result["systems"][system]["cold_start"] = cold
                log(f"    {system}: {cold['wall_s']} s wall, {cold['peak_rss_mb']} MB ({time.perf_counter() - t:.0f} s)")

        if args.scale:
            t = begin(f"scale curve: embed the distinct articles of {args.scale_data.name} once")
            cache = work / "scale-embeddings.npz"
            distinct = ["--distinct", str(args.scale_distinct)] if args.scale_distinct else []
            prewarm = run_job(["prewarm", "--data", str(args.scale_data), "--n", str(max(args.scale)),
                               "--cache", str(cache), *distinct, *fake], work / "prewarm.json")
            log(f"    {prewarm['chunks']} chunks at {prewarm['chunks_per_s']} chunks/s")
            points = []
            for n in args.scale:
                t = begin(f"scale curve: {n:,} article(s)")
                index_dir = work / f"scale-{n}"
                p = run_job(["scale", "--data", str(args.scale_data), "--n", str(n), "--index-dir", str(index_dir),
                             "--cache", str(cache), "--questions", str(args.scale_questions), "--seed", str(args.seed),
                             *distinct, *fake], work / f"scale-{n}.json")
                points.append(p)
                shutil.rmtree(index_dir, ignore_errors=True)  # the 1,000-article index is large
                log(f"    {p['chunks']:,} chunks indexed in {p['index_seconds']:.1f} s, {p['index_bytes'] / 1e6:.0f} MB, "
                    f"p50 {p['latency_p50_ms']} ms ({time.perf_counter() - t:.0f} s)"
                    + (f"; answering FAILED: {p['error']}" if p.get("error") else ""))
            result["scale"] = {"data": args.scale_data.name, "distinct": args.scale_distinct, "prewarm": prewarm, "points": points}
    except BenchError as exc:
        log(str(exc))
        return 1
    finally:
        if args.keep:
            log(f"Scratch indexes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    from bench import report

    result["meta"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["meta"]["machine"]["loadavg_end"] = _loadavg()
    if not args.no_plots:
        try:
            args.plots.mkdir(parents=True, exist_ok=True)
            made = [report.plot_quality(result, args.plots / "bench_quality.png"),
                    report.plot_cost(result, args.plots / "bench_cost.png")]
            if result["scale"]:
                made.append(report.plot_scale(result["scale"], args.plots / "bench_scale.png"))
            result["meta"]["plots"] = [str(p) for p in made]
        except ImportError:
            log("matplotlib is not installed: no plots (pip install matplotlib).")
    out_json = args.out / f"{stem}.json"
    out_json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    tables = report.markdown(result)
    (args.out / f"{stem}.md").write_text(tables, encoding="utf-8")
    print(tables)
    log(f"Results: {out_json} (and {stem}.md); {result['meta']['wall_seconds']} s in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
