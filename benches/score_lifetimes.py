#!/usr/bin/env python3
"""The lifetimes side of benches/score.sh: what `kanta score` does, as an analyst
would do it with lifetimes 0.11.3, on the same transaction CSV, timed and printed as
JSON. The CSV is read and its dates parsed before the clock starts.

    score_lifetimes.py FILE AS_OF

summary_data_from_transaction_data (days, as Kanta), BetaGeoFitter in weeks,
GammaGammaFitter on the repeat customers, then per customer P(alive), expected
purchases in 30, 90 and 365 days, and CLV over 12 and 36 months (1% a month).
Kanta also fits MBG/NBD and Pareto/NBD on a calibration period to choose the model
and simulates the forecast interval; lifetimes here does only the one model.
"""
import json
import resource
import sys
import time

import pandas as pd


def main():
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    df = pd.read_csv(sys.argv[1], usecols=["customer_id", "occurred_at", "amount"])
    df["occurred_at"] = pd.to_datetime(df["occurred_at"].str.slice(0, 10))
    as_of = pd.Timestamp(sys.argv[2])
    out = {}
    t0 = time.perf_counter()
    s = summary_data_from_transaction_data(
        df, "customer_id", "occurred_at", monetary_value_col="amount",
        observation_period_end=as_of, freq="D")
    s["recency"] /= 7.0
    s["T"] /= 7.0
    t1 = time.perf_counter()
    bgf = BetaGeoFitter()
    bgf.fit(s["frequency"], s["recency"], s["T"])
    rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    ggf = GammaGammaFitter()
    ggf.fit(rep["frequency"], rep["monetary_value"])
    t2 = time.perf_counter()
    p_alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    exp = {d: bgf.conditional_expected_number_of_purchases_up_to_time(d / 7.0, s["frequency"], s["recency"], s["T"])
           for d in (30, 90, 365)}
    spend = ggf.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    clv = {m: ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                          time=m, discount_rate=0.01, freq="W")
           for m in (12, 36)}
    t3 = time.perf_counter()
    out["seconds"] = t3 - t0
    out["phases"] = {"summaries": t1 - t0, "fit": t2 - t1, "scores": t3 - t2}
    out["customers"] = len(s)
    out["params"] = {k: float(v) for k, v in bgf.params_.items()}
    out["spend"] = {k: float(v) for k, v in ggf.params_.items()}
    out["mean_p_alive"] = float(p_alive.mean())
    out["clv12_total"] = float(clv[12].sum())
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
