"""Tables (Markdown) and plots (PNG) of a `python -m bench` result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

LABELS = {"ours": "ours (article-chat)", "baseline": "baseline (LangChain tutorial)"}
QUALITY = [
    ("support_recall@1", "support recall@1"),
    ("support_recall@4", "support recall@4"),
    ("answer_hit_rate", "answer hit rate"),
    ("citation_precision", "citation precision"),
    ("passage_precision", "passage precision"),
    ("refusal_accuracy", "refusal accuracy"),
]


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def quality_table(result: dict[str, Any]) -> str:
    head = (
        "| file | system | questions | recall@1 | recall@4 | answer hit | citation precision | passage precision "
        "| cited chars | refusal accuracy | false refusals | p50 ms | p95 ms |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for name in result["files"]:
        for system in result["systems"]:
            r = result["systems"][system]["files"].get(name)
            if not r:
                continue
            m = r["metrics"]
            rows.append(
                f"| {name} | {system} | {m['answerable']} + {m['unanswerable']} | {_f(m['support_recall@1'])} "
                f"| {_f(m['support_recall@4'])} | {_f(m['answer_hit_rate'])} | {_f(m['citation_precision'])} "
                f"| {_f(m['passage_precision'])} | {_f(m['mean_cited_chars'], 0)} | {_f(m['refusal_accuracy'])} "
                f"| {_f(m['false_refusal_rate'])} | {_f(m['latency_p50_ms'], 1)} | {_f(m['latency_p95_ms'], 1)} |"
            )
    return head + "\n".join(rows) + "\n"


def cost_table(result: dict[str, Any]) -> str:
    head = (
        "| system | file indexed | articles | chunks | index s | chunks/s | articles/s | warm p50 / p95 ms "
        "| cold start s (import / open / first answer) | peak RSS eval MB | peak RSS cold start MB |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n"
    )
    rows = []
    for system, s in result["systems"].items():
        files = s["files"]
        if not files:
            continue
        big = max(files.values(), key=lambda r: r["chunks"])
        cold = s.get("cold_start") or {}
        cold_txt = (
            f"{_f(cold.get('wall_s'), 2)} ({_f(cold.get('import_s'), 2)} / {_f(cold.get('open_s'), 2)} / "
            f"{_f(cold.get('first_answer_s'), 2)})" if cold else "–"
        )
        m = big["metrics"]
        rows.append(
            f"| {system} | {big['file']} | {big['articles']} | {big['chunks']} | {_f(big['index_seconds'], 1)} "
            f"| {_f(big['chunks_per_s'], 1)} | {_f(big['articles_per_s'], 2)} "
            f"| {_f(m['latency_p50_ms'], 1)} / {_f(m['latency_p95_ms'], 1)} | {cold_txt} "
            f"| {_f(max(r['peak_rss_mb'] for r in files.values()), 0)} | {_f(cold.get('peak_rss_mb'), 0)} |"
        )
    return head + "\n".join(rows) + "\n"


def growth(points: list[dict[str, Any]], key: str) -> list[float | None]:
    """Local log-log slope of `key` against chunks, point to point (1 = linear, 0 = constant)."""
    out: list[float | None] = [None]
    for a, b in zip(points, points[1:]):
        ya, yb, xa, xb = a.get(key), b.get(key), a["chunks"], b["chunks"]
        if ya and yb and xa and xb and xb != xa and ya > 0 and yb > 0:
            out.append(round(math.log(yb / ya) / math.log(xb / xa), 2))
        else:
            out.append(None)
    return out


def scale_table(points: list[dict[str, Any]]) -> str:
    head = (
        "| articles | chunks | index s | chunks/s | slope | index MB | bytes/chunk | slope | pipeline build s | slope "
        "| query p50 ms | p95 ms | slope p50 | retrieval p50 ms | p95 ms | slope p50 | peak RSS MB |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    gi, gs, gp, gl, gr = (
        growth(points, k)
        for k in ("index_seconds", "index_bytes", "pipeline_seconds", "latency_p50_ms", "retrieval_p50_ms")
    )
    rows = []
    for i, p in enumerate(points):
        rows.append(
            f"| {p['articles']:,} | {p['chunks']:,} | {_f(p['index_seconds'], 2)} "
            f"| {_f(p['chunks'] / p['index_seconds'] if p['index_seconds'] else None, 0)} | {_f(gi[i], 2)} "
            f"| {_f(p['index_bytes'] / 1e6, 1)} | {_f(p['index_bytes'] / max(1, p['chunks']), 0)} | {_f(gs[i], 2)} "
            f"| {_f(p['pipeline_seconds'], 2)} | {_f(gp[i], 2)} | {_f(p['latency_p50_ms'], 1)} "
            f"| {_f(p['latency_p95_ms'], 1)} | {_f(gl[i], 2)} | {_f(p.get('retrieval_p50_ms'), 1)} "
            f"| {_f(p.get('retrieval_p95_ms'), 1)} | {_f(gr[i], 2)} | {_f(p['peak_rss_mb'], 0)} |"
        )
    notes = [f"\nAt {p['articles']:,} articles answering failed: `{p['error']}`" for p in points if p.get("error")]
    return head + "\n".join(rows) + "\n" + "".join(n + "\n" for n in notes)


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    m = meta["machine"]
    parts = [
        f"Command: `{meta['command']}`  \nDate: {meta['date']}  \n"
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, {m['platform']}; "
        f"load average {m['loadavg_start']} at the start, {m.get('loadavg_end')} at the end.  \n"
        f"Embeddings: {meta['embedding']}; wall time {meta.get('wall_seconds')} s.\n",
        "### Quality\n\n" + quality_table(result),
        "### Cost\n\n" + cost_table(result),
    ]
    if result.get("scale"):
        s = result["scale"]
        parts.append(
            "### Scale curve (ours)\n\n"
            f"Chunk embeddings cached by text (prewarm: {s['prewarm']['chunks']} chunks embedded at "
            f"{s['prewarm']['chunks_per_s']} chunks/s); slopes are log-log against chunks (1 = linear).\n\n"
            + scale_table(s["points"])
        )
    return "\n".join(parts)


# --- plots ---------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


COLORS = {"ours": "#1f77b4", "baseline": "#ff7f0e"}


def plot_quality(result: dict[str, Any], path: Path) -> Path:
    """One panel per question file: the quality metrics of both systems side by side."""
    plt = _plt()
    files = list(result["files"])
    fig, axes = plt.subplots(1, len(files), figsize=(5.2 * len(files), 4.2), squeeze=False, sharey=True)
    width = 0.38
    for ax, name in zip(axes[0], files):
        for j, system in enumerate(result["systems"]):
            r = result["systems"][system]["files"].get(name)
            if not r:
                continue
            vals = [r["metrics"].get(k) for k, _ in QUALITY]
            xs = [i + (j - 0.5) * width for i in range(len(QUALITY))]
            bars = ax.bar(xs, [v or 0 for v in vals], width, label=LABELS[system], color=COLORS[system])
            for b, v in zip(bars, vals):
                ax.text(b.get_x() + b.get_width() / 2, (v or 0) + 0.01, "–" if v is None else f"{v:.2f}",
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(QUALITY)))
        ax.set_xticklabels([label for _, label in QUALITY], rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1.1)
        q = next(iter(result["systems"].values()))["files"].get(name, {}).get("metrics", {})
        ax.set_title(f"{name}\n({q.get('answerable')} answerable + {q.get('unanswerable')} unanswerable)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("share (higher is better)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("Quality: ours vs the LangChain RAG tutorial recipe (same articles, questions, embedding model)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_cost(result: dict[str, Any], path: Path) -> Path:
    """What each system costs: characters to read, warm latency, cold start, memory, index speed."""
    plt = _plt()
    systems = [s for s in result["systems"] if result["systems"][s]["files"]]
    files = list(result["files"])

    def big(system):
        return max(result["systems"][system]["files"].values(), key=lambda r: r["chunks"])

    def cold(system, key):
        return (result["systems"][system].get("cold_start") or {}).get(key)

    name = big(systems[0])["file"]
    panels = [
        ("characters cited per answer (lower: less to read)",
         lambda s: [result["systems"][s]["files"][f]["metrics"]["mean_cited_chars"] for f in files], files),
        (f"warm answer latency, ms ({name})",
         lambda s: [big(s)["metrics"]["latency_p50_ms"], big(s)["metrics"]["latency_p95_ms"]], ["p50", "p95"]),
        ("cold start, s (fresh process, first answer)",
         lambda s: [cold(s, k) for k in ("import_s", "open_s", "first_answer_s", "wall_s")],
         ["imports", "open index\n+ model", "first\nanswer", "whole process\n(wall)"]),
        ("peak resident memory, MB",
         lambda s: [max(r["peak_rss_mb"] for r in result["systems"][s]["files"].values()), cold(s, "peak_rss_mb")],
         ["index + answer\n(largest file)", "cold start to\nfirst answer"]),
        (f"indexing, chunks/s ({name})", lambda s: [big(s)["chunks_per_s"]], ["chunks/s"]),
        (f"indexing, articles/s ({name})", lambda s: [big(s)["articles_per_s"]], ["articles/s"]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    width = 0.38
    for ax, (title, values, ticks) in zip(axes.flat, panels):
        for j, system in enumerate(systems):
            vals = values(system)
            xs = [i + (j - 0.5) * width for i in range(len(vals))]
            bars = ax.bar(xs, [v or 0 for v in vals], width, color=COLORS[system], label=LABELS[system])
            for b, v in zip(bars, vals):
                label = "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 1 else f"{v:.1f}"
                ax.text(b.get_x() + b.get_width() / 2, v or 0, label, ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(ticks)))
        ax.set_xticklabels(ticks, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.12)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("Cost: ours vs the LangChain tutorial recipe (lower is better, except indexing speed)", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scale(scale: dict[str, Any], path: Path) -> Path:
    """Index time, size on disk and query latency against chunks, on log-log axes with a linear guide."""
    plt = _plt()
    pts = scale["points"]
    x = [p["chunks"] for p in pts]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))

    def guide(ax, y):
        if len(x) > 1 and y[0]:
            ax.plot(x, [y[0] * xi / x[0] for xi in x], ls=":", color="grey", label="linear from the first point")

    def some(ys):
        """The points that have a value (answering fails at some sizes: see the table)."""
        pairs = [(xi, yi) for xi, yi in zip(x, ys) if yi is not None]
        return [a for a, _ in pairs], [b for _, b in pairs]

    y = [p["index_seconds"] for p in pts]
    axes[0].plot(x, y, "o-", label="index (embeddings cached)")
    rate = scale["prewarm"]["chunks_per_s"]
    axes[0].plot(x, [yi + xi / rate for xi, yi in zip(x, y)], "s--", label=f"+ embedding at {rate:.0f} chunks/s (projected)")
    axes[0].plot(*some([p["pipeline_seconds"] for p in pts]), "^-", label="answering pipeline build (BM25, texts)")
    guide(axes[0], y)
    axes[0].set_ylabel("seconds")
    axes[0].set_title("index time", fontsize=10)
    sizes = [p["index_bytes"] / 1e6 for p in pts]
    axes[1].plot(x, sizes, "o-", label="whole index")
    axes[1].plot(x, [p["chroma_bytes"] / 1e6 for p in pts], "s--", label="Chroma part")
    guide(axes[1], sizes)
    axes[1].set_ylabel("MB on disk")
    axes[1].set_title("index size", fontsize=10)
    axes[2].plot(*some([p["latency_p50_ms"] for p in pts]), "o-", label="p50")
    axes[2].plot(*some([p["latency_p95_ms"] for p in pts]), "s--", label="p95")
    axes[2].plot(*some([p.get("retrieval_p50_ms") for p in pts]), "^-", label="retrieval alone p50 (dense + BM25)")
    guide(axes[2], [p.get("retrieval_p50_ms") for p in pts])
    for p in pts:
        if p.get("error"):
            axes[2].axvline(p["chunks"], color="red", ls="--", lw=1)
            axes[2].text(p["chunks"], axes[2].get_ylim()[1], " answering\n failed", color="red", fontsize=7, va="top")
    axes[2].set_ylabel("ms per warm question")
    axes[2].set_title("query latency (answer; retrieval alone)", fontsize=10)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks in the index")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        for p in pts:
            ax.annotate(f"{p['articles']:,} art.", (p["chunks"], ax.get_ylim()[0]), fontsize=6, ha="center",
                        xytext=(0, 2), textcoords="offset points")
    fig.suptitle("Scale curve of our pipeline (articles repeated under new ids)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
