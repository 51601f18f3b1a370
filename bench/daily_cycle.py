"""The daily cycle: train on days 1..t, evaluate on day t+1, move the window — incremental 1-epoch update (warm start
from yesterday's model, trained on yesterday's interactions only) vs a full retrain from scratch each day.

    python bench/daily_cycle.py --synthetic --days 7                     # a seeded synthetic log (no data needed)
    python bench/daily_cycle.py --log ratings.csv --item-col movieId --items movies.csv --period 91d --days 6

A "day" is --period long (1d by default). Each day's requests are the users active that day; held-out items are the
day's positives; candidates = all items minus the user's earlier positives; users without earlier interactions are
cold-start (scored by their features only) and counted.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import pandas as pd

from vecrecall.twotower.daily import CycleSpec, daily_cycle
from vecrecall.twotower.log import LogSpec
from vecrecall.twotower.pipeline import Job, TableSpec, read_inputs
from vecrecall.twotower.split import SplitSpec
from vecrecall.twotower.synthetic import SyntheticSpec, synthetic_log
from vecrecall.twotower.trainer import TrainSpec

UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def period(text: str) -> int:
    m = re.fullmatch(r"(\d+)([hdw])", text.strip())
    if not m:
        raise SystemExit(f"--period {text}: use a number and h, d or w, e.g. 1d, 12h, 2w")
    return int(m.group(1)) * UNITS[m.group(2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--log", type=Path)
    src.add_argument("--synthetic", action="store_true", help="a seeded synthetic log: 400 users, 600 items, 30 days")
    ap.add_argument("--items", type=Path)
    ap.add_argument("--item-col")
    ap.add_argument("--item-text", default="title,genres")
    ap.add_argument("--item-features", default="genres")
    ap.add_argument("--text-model", default="none")
    ap.add_argument("--period", default="1d")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=5, help="epochs of the full retrain")
    ap.add_argument("--incremental-epochs", type=int, default=1)
    ap.add_argument("--logq", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    items = args.items
    log = args.log
    if args.synthetic:
        tmp = Path(tempfile.mkdtemp(prefix="vecrecall-daily-"))
        frame, table = synthetic_log(SyntheticSpec(users=400, items=600, clusters=8, days=30, seed=args.seed))
        log, items = tmp / "log.csv", tmp / "items.csv"
        frame.to_csv(log, index=False)
        table.to_csv(items, index=False)
    text = tuple(x for x in args.item_text.split(",") if x) if args.text_model != "none" else ()
    job = Job(log=log, log_spec=LogSpec(item_col=args.item_col),
              items=TableSpec(items, None, text, tuple(x for x in args.item_features.split(",") if x)) if items else TableSpec(),
              split=SplitSpec(min_interactions=1), text_model=args.text_model,
              train=TrainSpec(epochs=args.epochs, logq=args.logq, seed=args.seed))
    data = read_inputs(job)

    def show(row: dict) -> None:
        print(f"day {row['day']} ({row['from']}) {row['mode']:<11} requests {row['requests']:>4} (cold {row['cold_users']:>3}) "
              f"HR@10 {row['Success@10']:.4f} HR@50 {row['Success@50']:.4f} R@50 {row['R@50']:.4f} "
              f"nDCG@10 {row['nDCG@10']:.4f} train {row['train_s']:.1f}s", flush=True)

    rows = daily_cycle(job, *data, CycleSpec(period(args.period), args.days, args.incremental_epochs), report=show)
    wide = rows.pivot(index=["day", "from", "requests", "cold_users", "heldout"], columns="mode",
                      values=["R@50", "nDCG@10", "train_s"])
    print("\n| day | from | requests (cold) | held-out | R@50 full | R@50 incremental | nDCG@10 full | nDCG@10 incremental "
          "| train s full | train s incremental |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (day, start, req, cold, held), r in wide.iterrows():
        print(f"| {day} | {start} | {req} ({cold}) | {held} | {r[('R@50', 'full')]:.4f} | {r[('R@50', 'incremental')]:.4f} | "
              f"{r[('nDCG@10', 'full')]:.4f} | {r[('nDCG@10', 'incremental')]:.4f} | {r[('train_s', 'full')]:.1f} | "
              f"{r[('train_s', 'incremental')]:.1f} |")
    mean = rows[rows["day"] > 1].groupby("mode")[["R@50", "nDCG@10", "train_s"]].mean()
    print(f"\ndays 2..{args.days} mean: " + "; ".join(f"{m}: R@50 {r['R@50']:.4f}, nDCG@10 {r['nDCG@10']:.4f}, "
                                                    f"{r['train_s']:.1f}s" for m, r in mean.iterrows()))


if __name__ == "__main__":
    pd.set_option("display.width", 160)
    main()
