//! Feedback analytics: NPS, CSAT and CES over time and by segment with intervals, response rates, exposure, detractor drivers (issue 13; owner: helper S3).
