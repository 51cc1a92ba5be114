//! The health score 0-100 that names its reasons: a binned logistic scorecard of
//! churn in the next 90 days ([`kanta_models::scorecard`]), learned from the store's
//! own past snapshots, or documented expert weights while outcomes are too few;
//! refreshed daily by a job and on demand, with each customer's history.
