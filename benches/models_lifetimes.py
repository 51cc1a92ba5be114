#!/usr/bin/env python3
"""The lifetimes side of benches/models.sh: one task, timed, printed as JSON.

    models_lifetimes.py fit-bgnbd FILE       BetaGeoFitter on frequency,recency,T
    models_lifetimes.py fit-pnbd FILE        ParetoNBDFitter
    models_lifetimes.py summary FILE END     summary_data_from_transaction_data of a
                                             transaction CSV already in memory
    models_lifetimes.py score FILE PARAMS    p_alive and expected purchases in 30 days
                                             for every row, with fitted BG/NBD parameters
"""
import json
import resource
import sys
import time

import pandas as pd


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    task = sys.argv[1]
    out = {"task": task}
    if task in ("fit-bgnbd", "fit-pnbd"):
        from lifetimes import BetaGeoFitter, ParetoNBDFitter
        df = pd.read_csv(sys.argv[2])
        # As its documentation shows users: one row per customer, no weights.
        f = BetaGeoFitter() if task == "fit-bgnbd" else ParetoNBDFitter()
        t = time.perf_counter()
        f.fit(df["frequency"], df["recency"], df["T"])
        out["seconds"] = time.perf_counter() - t
        out["params"] = {k: float(v) for k, v in f.params_.items()}
        out["rows"] = len(df)
    elif task == "summary":
        from lifetimes.utils import summary_data_from_transaction_data
        df = pd.read_csv(sys.argv[2], usecols=["customer_id", "occurred_at", "amount"])
        df["occurred_at"] = pd.to_datetime(df["occurred_at"].str.slice(0, 10))
        t = time.perf_counter()
        s = summary_data_from_transaction_data(
            df, "customer_id", "occurred_at", monetary_value_col="amount",
            observation_period_end=sys.argv[3], freq="D")
        out["seconds"] = time.perf_counter() - t
        out["customers"] = len(s)
    elif task == "score":
        from lifetimes import BetaGeoFitter
        t0 = time.perf_counter()
        df = pd.read_csv(sys.argv[2])
        f = BetaGeoFitter()
        f.params_ = pd.Series(json.loads(sys.argv[3]))
        t = time.perf_counter()
        pa = f.conditional_probability_alive(df["frequency"], df["recency"], df["T"])
        ep = f.conditional_expected_number_of_purchases_up_to_time(30 / 7, df["frequency"], df["recency"], df["T"])
        out["seconds"] = time.perf_counter() - t
        df["p_alive"] = pa
        df["expected_purchases"] = ep
        df.to_csv("/dev/null", index=False)
        out["seconds_end_to_end"] = time.perf_counter() - t0
        out["rows"] = len(df)
        out["mean_p_alive"] = float(pa.mean())
        out["sum_expected"] = float(ep.sum())
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
