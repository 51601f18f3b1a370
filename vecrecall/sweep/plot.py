"""recall_vs_qps.png: log-QPS against recall, one line per backend/build setting, the Pareto front drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..artifacts import atomic_file


def plot_recall_qps(df: pd.DataFrame, recall_col: str, out: Path, title: str = "") -> None:
    """Write the plot atomically to `out` (PNG, matplotlib Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for label, part in df.groupby("label", sort=False):
        part = part.sort_values(recall_col)
        ax.plot(part[recall_col], part["qps"], marker="o", markersize=3.5, linewidth=1.2, label=str(label))
    front = df[df["pareto"]].sort_values(recall_col)
    if len(front):
        ax.step(front[recall_col], front["qps"], where="post", color="black", linestyle="--", linewidth=1.4,
                label="Pareto front", zorder=5)
        ax.scatter(front[recall_col], front["qps"], s=28, facecolors="none", edgecolors="black", zorder=6)
    ax.set_yscale("log")
    ax.set_xlabel(recall_col)
    ax.set_ylabel("queries per second (batch, log scale)")
    ax.set_title(title or f"{recall_col} vs QPS")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best", ncol=2 if df["label"].nunique() > 8 else 1)
    fig.tight_layout()
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
