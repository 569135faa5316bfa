#!/usr/bin/env python3
"""The Python peer for scripts/bench_study.sh: the same market-model event study with
statsmodels OLS, on the same events (read from the database) and the same hourly closes
(the shared CSV files), for the first N events. Prints pairs/s.

Usage: python_peer_study.py DATABASE_URL N
Needs numpy, statsmodels and psql on PATH.
"""
import csv
import datetime as dt
import math
import os
import subprocess
import sys
import time

import numpy as np
import statsmodels.api as sm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PRICES = os.path.join(ROOT, "..", "shared", "data", "prices", "binance-hourly-close")
EST = (-744, -24)
WINDOWS = [(-24, 0), (0, 1), (0, 4), (0, 24), (-24, 24), (-24, 72)]
EPOCH = dt.datetime(1970, 1, 1)

url, n = sys.argv[1], int(sys.argv[2])
out = subprocess.run(["psql", url, "-Atc", f"SELECT extract(epoch FROM event_time) FROM events ORDER BY id LIMIT {n}"],
                     check=True, capture_output=True, text=True).stdout.split()
bar0s = [math.ceil(float(s) / 3600) for s in out]

t_load = time.perf_counter()
series = {}
for name in sorted(os.listdir(PRICES)):
    sym = name[:-len("USDT.csv")]
    if sym in ("USDC", "FDUSD"):
        continue
    with open(os.path.join(PRICES, name)) as f:
        pts = {int((dt.datetime.strptime(r["open_time"], "%Y-%m-%d %H:%M:%S") - EPOCH).total_seconds() // 3600): float(r["close"])
               for r in csv.DictReader(f)}
    series[sym] = pts
first = min(min(p) for p in series.values())
last = max(max(p) for p in series.values())
R = {}
for sym, pts in series.items():
    c = np.full(last - first + 1, np.nan)
    for b, v in pts.items():
        c[b - first] = v
    r = np.full_like(c, np.nan)
    r[1:] = c[1:] / c[:-1] - 1
    R[sym] = r
load_s = time.perf_counter() - t_load

t0 = time.perf_counter()
pairs = 0
for b0 in bar0s:
    i0 = b0 - first
    for sym, y in R.items():
        x = R["ETH"] if sym == "BTC" else R["BTC"]
        a, b = i0 + EST[0], i0 + EST[1]
        if a < 0:
            continue
        ys, xs = y[a:b], x[a:b]
        ok = np.isfinite(ys) & np.isfinite(xs)
        if ok.sum() < 576:
            continue
        model = sm.OLS(ys[ok], sm.add_constant(xs[ok])).fit()
        alpha, beta = model.params
        s2 = model.ssr / model.df_resid
        m, mx = ok.sum(), xs[ok].mean()
        ssx = ((xs[ok] - mx) ** 2).sum()
        for ws, we in WINDOWS:
            yw, xw = y[i0 + ws:i0 + we], x[i0 + ws:i0 + we]
            car = (yw - alpha - beta * xw).sum()
            L = we - ws
            var = s2 * (L + L * L / m + (xw.sum() - L * mx) ** 2 / ssx)
            _ = car / math.sqrt(var)
        pairs += 1
elapsed = time.perf_counter() - t0
print(f"python statsmodels: {len(bar0s)} events, {pairs} token-event pairs in {elapsed:.2f} s "
      f"({pairs / elapsed:,.0f} pairs/s; loading CSVs {load_s:.1f} s not counted)")
