#!/usr/bin/env python3
"""Generate inputs for scripts/bench_study.sh (nothing here is committed output).

  gen_study_inputs.py events N OUT.rss    N event times (seeded, uniform over whole hours
                                          and minutes between 2024-03-01 and 2025-06-01) as
                                          an RSS feed whose headlines name no token.
  gen_study_inputs.py events-csv N OUT.csv
                                          the same events as CSV (event_time,headline) for
                                          COPY into events when a feed is too large.
  gen_study_inputs.py tokens N DIR        N synthetic tokens' hourly closes (SYNnnnUSDT.csv,
                                          beta * BTC + noise, BTC's real hourly returns
                                          from ../shared/data) for the scaling run.
"""
import csv
import datetime as dt
import os
import random
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.join(ROOT, "..", "shared", "data", "prices", "binance-hourly-close")


def event_items(n):
    rng = random.Random(42)
    words_rng = random.Random(7)  # separate, so the event times stay as before
    start = dt.datetime(2024, 3, 1)
    span = int((dt.datetime(2025, 6, 1) - start).total_seconds() // 60)
    items = []
    for i in range(n):
        t = start + dt.timedelta(minutes=rng.randrange(span))
        # Distinct random words: templated titles alone ("Generated event 1", "... 2")
        # would be one story to the clustering (docs/stories.md).
        words = " ".join(f"w{words_rng.randrange(100000)}" for _ in range(8))
        items.append((i, t, f"Generated event {i} {words}"))
    return items


def events_csv(n, out):
    with open(out, "w") as f:
        w = csv.writer(f, lineterminator="\n")
        for _, t, title in event_items(n):
            w.writerow([t.strftime("%Y-%m-%d %H:%M:%S+00"), title])


def events(n, out):
    items = [f"<item><title>{title}</title><guid isPermaLink=\"false\">gen-{i}</guid>"
             f"<pubDate>{t.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
             for i, t, title in event_items(n)]
    with open(out, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Generated</title>\n')
        f.write("\n".join(items))
        f.write("\n</channel></rss>\n")


def tokens(n, out):
    rng = random.Random(7)
    with open(os.path.join(SHARED, "BTCUSDT.csv")) as f:
        rows = list(csv.DictReader(f))
    os.makedirs(out, exist_ok=True)
    for k in range(n):
        beta = 0.5 + rng.random() * 1.5
        vol = 0.003 + rng.random() * 0.01
        p = 1.0 + rng.random() * 100
        prev = None
        with open(os.path.join(out, f"SYN{k:04d}USDT.csv"), "w") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["open_time", "close"])
            for r in rows:
                c = float(r["close"])
                if prev is not None:
                    p *= 1 + beta * (c / prev - 1) + rng.gauss(0, vol)
                prev = c
                w.writerow([r["open_time"], f"{p:.8g}"])


if __name__ == "__main__":
    what, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    {"events": events, "events-csv": events_csv, "tokens": tokens}[what](n, out)
