"""recall_vs_qps.png: log-QPS against recall, one line per backend/build setting, the min–max spread over timing
repetitions as error bars, the Pareto front drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_file

AXIS = {"qps": ("qps", "queries per second (1 thread: 1 / mean latency; log scale)"),
        "batch": ("batch_qps", "queries per second (batch, all threads; log scale)")}


def plot_recall_qps(df: pd.DataFrame, recall_col: str, out: Path, title: str = "", by: str = "qps") -> None:
    """Write the plot atomically to `out` (PNG, matplotlib Agg backend). `by`: the Pareto axis (p50 plots QPS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col, ylabel = AXIS.get(by, AXIS["qps"])
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for label, part in df.groupby("label", sort=False):
        part = part.sort_values(recall_col)
        y = part[col].to_numpy(dtype=float)
        if f"{col}_min" in part and f"{col}_max" in part:
            err = np.vstack([y - part[f"{col}_min"].to_numpy(dtype=float), part[f"{col}_max"].to_numpy(dtype=float) - y])
            ax.errorbar(part[recall_col], y, yerr=np.clip(err, 0, None), marker="o", markersize=3.5, linewidth=1.2,
                        elinewidth=0.8, capsize=2, label=str(label))
        else:
            ax.plot(part[recall_col], y, marker="o", markersize=3.5, linewidth=1.2, label=str(label))
    front = df[df["pareto"]].sort_values(recall_col)
    if len(front):
        ax.step(front[recall_col], front[col], where="post", color="black", linestyle="--", linewidth=1.4,
                label="Pareto front", zorder=5)
        ax.scatter(front[recall_col], front[col], s=28, facecolors="none", edgecolors="black", zorder=6)
    ax.set_yscale("log")
    ax.set_xlabel(recall_col)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{recall_col} vs QPS")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best", ncol=2 if df["label"].nunique() > 8 else 1)
    fig.tight_layout()
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
