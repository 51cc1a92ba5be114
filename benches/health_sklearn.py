"""Kanta's health scorecard against scikit-learn on the same splits (benches/health.sh).

For each seed: `kanta health fit --seed S --split-out HOLDOUT --json` fits and reports
its holdout AUC and Brier; the held-out ids it wrote define the split for
scikit-learn's LogisticRegression (numeric: median imputation + standard scaling;
categorical: one-hot; default C=1, lbfgs) and HistGradientBoostingClassifier (native
categorical features, defaults). Columns are typed as Kanta types them: numeric when
every non-blank cell reads as a number (Finnish 12,50 included), else categorical.
"""

import argparse
import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MISSING = {"", "na", "n/a", "nan", "null"}
YES = {"yes", "1", "true", "kyllä", "kylla"}


def number(s):
    t = s.strip()
    try:
        return float(t)
    except ValueError:
        try:
            return float(t.replace(" ", "").replace("\u00a0", "").replace(",", "."))
        except ValueError:
            return None


def typed(df, target, ident):
    num, cat = [], []
    X = pd.DataFrame(index=df.index)
    for c in df.columns:
        if c in (target, ident):
            continue
        cells = df[c].astype(str)
        blank = cells.str.strip().str.lower().isin(MISSING)
        values = [None if b else number(v) for v, b in zip(cells, blank)]
        if all(v is not None for v, b in zip(values, blank) if not b):
            X[c] = [np.nan if v is None else v for v in values]
            num.append(c)
        else:
            X[c] = cells.str.strip().where(~blank, "missing")
            cat.append(c)
    return X, num, cat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kanta", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--work", default="bench-data/health")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    df = pd.read_csv(a.input, dtype=str, keep_default_na=False)
    y = df[a.target].str.strip().str.lower().isin(YES).astype(int).values
    X, num, cat = typed(df, a.target, a.id)
    Xc = X.copy()
    for c in cat:
        Xc[c] = Xc[c].astype("category")
    ids = df[a.id].str.strip().values

    print(
        f"{os.path.basename(a.input)}: {len(df)} rows, {y.sum()} events; "
        f"{len(num)} numeric and {len(cat)} categorical features; "
        f"scikit-learn {sklearn.__version__}, {os.cpu_count()} cores"
    )
    head = ("seed", "kanta AUC", "Brier", "fit s", "LR AUC", "Brier", "fit s",
            "HGB AUC", "Brier", "fit s")
    print("%4s  %9s %7s %6s  %9s %7s %6s  %9s %7s %6s" % head)
    rows = []
    for seed in range(1, a.seeds + 1):
        split = os.path.join(a.work, f"holdout_{seed}.txt")
        t0 = time.perf_counter()
        out = subprocess.run(
            [a.kanta, "health", "fit", "--input", a.input, "--target", a.target,
             "--id", a.id, "--seed", str(seed), "--split-out", split, "--json"],
            check=True, capture_output=True, text=True,
        ).stdout
        k_wall = time.perf_counter() - t0
        k = json.loads(out)
        hold = set(open(split).read().split("\n")[1:]) - {""}
        te = np.isin(ids, list(hold))
        assert te.sum() == k["n_holdout"], (te.sum(), k["n_holdout"])

        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
        ])
        lr = make_pipeline(pre, LogisticRegression(max_iter=2000))
        t0 = time.perf_counter()
        lr.fit(X[~te], y[~te])
        lr_s = time.perf_counter() - t0
        p_lr = lr.predict_proba(X[te])[:, 1]

        hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
        t0 = time.perf_counter()
        hgb.fit(Xc[~te], y[~te])
        hgb_s = time.perf_counter() - t0
        p_hgb = hgb.predict_proba(Xc[te])[:, 1]

        r = (seed, k["auc"], k["brier"], k["fit_seconds"],
             roc_auc_score(y[te], p_lr), brier_score_loss(y[te], p_lr), lr_s,
             roc_auc_score(y[te], p_hgb), brier_score_loss(y[te], p_hgb), hgb_s, k_wall)
        rows.append(r)
        print("%4d  %9.4f %7.4f %6.2f  %9.4f %7.4f %6.2f  %9.4f %7.4f %6.2f" % r[:10], flush=True)
    m = np.array([r[1:] for r in rows]).mean(axis=0)
    print("mean  %9.4f %7.4f %6.2f  %9.4f %7.4f %6.2f  %9.4f %7.4f %6.2f" % tuple(m[:9]))
    wins_lr = sum(r[1] > r[4] for r in rows)
    wins_hgb = sum(r[1] > r[7] for r in rows)
    print(
        f"Kanta's AUC is higher than LogisticRegression's on {wins_lr} of {len(rows)} splits "
        f"and than HistGradientBoosting's on {wins_hgb}; mean AUC difference "
        f"{m[0] - m[3]:+.4f} (LR), {m[0] - m[6]:+.4f} (HGB)."
    )
    print(
        f"Fit time per split: Kanta {m[2]:.2f} s (its own fit_seconds; {m[9]:.2f} s end to end), "
        f"LR {m[5]:.2f} s, HGB {m[8]:.2f} s; ratio Kanta/LR {m[2] / m[5]:.1f}x, "
        f"Kanta/HGB {m[2] / m[8]:.1f}x."
    )


if __name__ == "__main__":
    main()
