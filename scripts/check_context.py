#!/usr/bin/env python3
"""Independent check of the equities context (docs/context.md), with pandas and numpy
and nothing of Catalyst's: reads the shared files directly (never copied here).

1. Session alignment: for every curated event (demo/curated-events-2024-2025.csv) and
   every context asset, the event's session (the first US session whose 16:00 New York
   close, converted to UTC by pandas' own time-zone database, is after the publication), the previous session, and the session return close / previous close - 1.
2. Betas of the 'ai' and 'ai-agents' categories (config/taxonomy.csv) to every asset:
   the category's session return is the equal-weighted mean of its tokens' returns
   between their Binance hourly closes at consecutive session closes (the close of the
   bar opening an hour before); least squares (numpy lstsq) of it on the asset's session
   return over the last 250 sessions that have both; the slope's standard error from
   s^2 (X'X)^-1, the correlation from np.corrcoef.

Writes JSON to standard output (tests/fixtures/context/expected.json is its output):
    python3 scripts/check_context.py [DATA_DIR] > tests/fixtures/context/expected.json
DATA_DIR defaults to ../shared/data beside the repository.
"""
import csv
import json
import os
import sys

import numpy as np
import pandas as pd

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
ASSETS = ["NVDA", "SMH", "BOTZ", "SOXX", "SPY", "QQQ"]
CATEGORIES = ["ai", "ai-agents"]
WINDOW = 250
MIN_SESSIONS = 20


def sessions(symbol):
    """The asset's sessions: date, close, and the close instant in UTC."""
    df = pd.read_csv(os.path.join(DATA, "equities", "yahoo-daily", f"{symbol}.csv"))
    df = df[["date", "close"]].copy()
    local = pd.to_datetime(df["date"]) + pd.Timedelta(hours=16)
    df["close_at"] = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    return df.sort_values("close_at").reset_index(drop=True)


def placements(assets):
    events = pd.read_csv(os.path.join(ROOT, "demo", "curated-events-2024-2025.csv"))
    out = []
    for published in events["published_at"]:
        t = pd.Timestamp(published).tz_convert("UTC")
        for symbol, df in assets.items():
            after = df.index[df["close_at"] > t]
            if len(after) == 0 or after[0] == 0:
                continue
            i = after[0]
            out.append({
                "published_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "symbol": symbol,
                "session_date": df.loc[i, "date"],
                "previous_session_date": df.loc[i - 1, "date"],
                "session_return": float(df.loc[i, "close"] / df.loc[i - 1, "close"] - 1.0),
            })
    return out


def members(category):
    with open(os.path.join(ROOT, "config", "taxonomy.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["symbol"] for r in rows
            if category in r["categories"].split(";")
            and "stablecoin" not in r["categories"].split(";")]


def hourly_closes(symbol):
    """Close by the instant it was struck: the bar's open time plus an hour (UTC)."""
    df = pd.read_csv(os.path.join(DATA, "prices", "binance-hourly-close", f"{symbol}USDT.csv"))
    at = pd.to_datetime(df["open_time"]).dt.tz_localize("UTC") + pd.Timedelta(hours=1)
    return pd.Series(df["close"].values, index=at)


def beta(asset, tokens):
    t0 = pd.DatetimeIndex(asset["close_at"].iloc[:-1])
    t1 = pd.DatetimeIndex(asset["close_at"].iloc[1:])
    x = (asset["close"].iloc[1:].values / asset["close"].iloc[:-1].values) - 1.0
    rets = []
    for closes in tokens.values():
        a = closes.reindex(t0).values
        b = closes.reindex(t1).values
        rets.append(b / a - 1.0)
    rets = np.array(rets)  # tokens x sessions, NaN where a close is missing
    have = ~np.isnan(rets)
    keep = have.any(axis=0)
    y = np.nanmean(np.where(have, rets, np.nan)[:, keep], axis=0)
    x, dates, have = x[keep], asset["date"].iloc[1:].values[keep], have[:, keep]
    x, y, dates, have = x[-WINDOW:], y[-WINDOW:], dates[-WINDOW:], have[:, -WINDOW:]
    n = len(x)
    if n < MIN_SESSIONS:
        return None
    X = np.column_stack([np.ones(n), x])
    coef, rss, _, _ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = resid @ resid / (n - 2)
    cov = s2 * np.linalg.inv(X.T @ X)
    return {
        "beta": float(coef[1]),
        "beta_se": float(np.sqrt(cov[1, 1])),
        "alpha": float(coef[0]),
        "correlation": float(np.corrcoef(x, y)[0, 1]),
        "n_sessions": int(n),
        "n_tokens": int(have.any(axis=1).sum()),
        "first_session": str(dates[0]),
        "last_session": str(dates[-1]),
    }


def main():
    assets = {s: sessions(s) for s in ASSETS}
    out = {"sessions": placements(assets), "betas": []}
    for category in CATEGORIES:
        tokens = {s: hourly_closes(s) for s in members(category)}
        for symbol, df in assets.items():
            b = beta(df, tokens)
            if b is not None:
                out["betas"].append({"category": category, "symbol": symbol, **b})
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
