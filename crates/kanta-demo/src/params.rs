//! The stated generating parameters. `docs/demo.md` explains each draw in full; the
//! model-recovery tests fit the models on generated data and compare with these.

use serde::Serialize;

/// BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), time
/// in **weeks**.
///
/// Per customer: purchase rate `λ ~ Gamma(shape r, rate alpha)` (density
/// `alpha^r λ^(r-1) e^(-alpha λ) / Γ(r)`), dropout probability `p ~ Beta(a, b)`.
/// The first purchase opens the customer at time 0 and the customer is then alive.
/// While alive, purchases form a Poisson process with rate `λ`; right after each
/// *repeat* purchase the customer becomes inactive for good with probability `p`
/// (so the number of repeat purchases before dropping out is geometric, and
/// `P(X(t) = 0) = (alpha / (alpha + t))^r`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Mean purchase rate per week while alive, `r / alpha`.
    pub fn mean_rate(&self) -> f64 {
        self.r / self.alpha
    }

    /// Mean dropout probability after a repeat purchase, `a / (a + b)`.
    pub fn mean_dropout(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    /// Probability of no repeat purchase in the first `t` weeks,
    /// `(alpha / (alpha + t))^r`.
    pub fn prob_no_repeat(&self, t: f64) -> f64 {
        (self.alpha / (self.alpha + t)).powf(self.r)
    }
}

/// Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie
/// 2013, "The Gamma-Gamma Model of Monetary Value"; `lifetimes`' `GammaGammaFitter`),
/// money in **euros**.
///
/// Per customer `ν ~ Gamma(shape q, rate gamma)`; each transaction's value
/// `z ~ Gamma(shape p, rate ν)`, independent of the purchase process. So a customer's
/// mean spend is `p / ν` and the mean over customers is `p·gamma / (q − 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

impl GammaGamma {
    /// Mean value of a transaction in euros, `p·gamma / (q − 1)` (needs `q > 1`).
    pub fn mean_spend(&self) -> f64 {
        self.p * self.gamma / (self.q - 1.0)
    }
}

/// Shifted-beta-geometric (Fader & Hardie 2007, "How to project customer retention").
///
/// Per account `θ ~ Beta(alpha, beta)`; at the end of each billing period (each
/// renewal) the account leaves with probability `θ`, independently of the past. The
/// lifetime `T` in periods has `P(T = t | θ) = θ (1 − θ)^(t − 1)`, `t = 1, 2, ...`
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sbg {
    pub alpha: f64,
    pub beta: f64,
}

impl Sbg {
    /// Probability that an account that has renewed `t − 1` times leaves at renewal
    /// `t` (`t ≥ 1`): `alpha / (alpha + beta + t − 1)`.
    pub fn churn(&self, t: u32) -> f64 {
        self.alpha / (self.alpha + self.beta + f64::from(t) - 1.0)
    }

    /// Retention rate at renewal `t`: `(beta + t − 1) / (alpha + beta + t − 1)`.
    pub fn retention(&self, t: u32) -> f64 {
        1.0 - self.churn(t)
    }

    /// Share of accounts still there after `t` renewals, `B(alpha, beta + t) /
    /// B(alpha, beta)`.
    pub fn survival(&self, t: u32) -> f64 {
        (1..=t).map(|k| self.retention(k)).product()
    }
}

/// Trust ledger: a job done well credits the customer's trust account, a mistake
/// debits ten times as much (seed 001, Carl Sewell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrustParams {
    /// Credit for one job done well.
    pub credit: i64,
    /// Debit for one mistake of ours (negative).
    pub debit: i64,
}

/// The café's generating parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CafeParams {
    /// Segment of every café customer.
    pub segment: &'static str,
    /// Purchases. First purchases are spread uniformly over the whole window (see
    /// `docs/demo.md`), so each customer's `T` differs.
    pub purchases: BgNbd,
    /// Value of every purchase, the first one included.
    pub spend: GammaGamma,
    /// Share of customers who speak English (locale `en`); the rest speak Finnish.
    pub english_share: f64,
    /// Share of customers with an email address (app and loyalty users).
    pub email_share: f64,
    /// Share of customers with a phone number.
    pub phone_share: f64,
    /// Share of customers who consent to surveys at their first visit.
    pub survey_consent_share: f64,
    /// Share of customers with an email who consent to marketing.
    pub marketing_consent_share: f64,
    /// Probability that a visit leads to a complaint (a case).
    pub complaint_per_visit: f64,
    /// Customers who claim compensation again and again (seed 001's rare 1 %): each
    /// has 4 to 6 small claims in the last 12 months.
    pub repeat_claimants: usize,
    /// Probability that a visit of a consenting customer yields a survey answer.
    pub survey_answer_per_visit: f64,
    /// At most one survey answer per customer in this many days.
    pub survey_min_gap_days: i64,
}

/// The B2B firm's generating parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct B2bParams {
    /// Churn of accounts on monthly plans, per month.
    pub monthly: Sbg,
    /// Churn of accounts on yearly plans, per year.
    pub yearly: Sbg,
    /// Size tiers `small`, `mid`, `enterprise` (segments `b2b-small`, ...): shares.
    pub tier_shares: [f64; 3],
    /// Per tier, the share of accounts on a yearly plan.
    pub yearly_share: [f64; 3],
    /// List prices of the plans Perus, Pro and Enterprise, cents per month.
    pub plan_prices: [i64; 3],
    /// A yearly plan costs this many months of the monthly price.
    pub yearly_price_months: i64,
    /// Share of accounts whose language is English.
    pub english_share: f64,
    /// Share of churning accounts whose usage falls in the weeks before they leave.
    pub usage_drop_share: f64,
    /// The fall starts this many weeks (uniform between the bounds) before leaving.
    pub usage_drop_weeks: (f64, f64),
    /// Median weekly active users per tier.
    pub active_users_median: [f64; 3],
}

/// The café (seed 001): about 5,000 regulars and passers-by over three years.
pub const CAFE: CafeParams = CafeParams {
    segment: "kahvila",
    purchases: BgNbd {
        r: 0.9,
        alpha: 2.5,
        a: 0.6,
        b: 3.5,
    },
    spend: GammaGamma {
        p: 6.0,
        q: 4.0,
        gamma: 4.0,
    },
    english_share: 0.15,
    email_share: 0.85,
    phone_share: 0.30,
    survey_consent_share: 0.65,
    marketing_consent_share: 0.40,
    complaint_per_visit: 0.012,
    repeat_claimants: 5,
    survey_answer_per_visit: 0.04,
    survey_min_gap_days: 30,
};

/// The B2B service firm: about 300 accounts on subscriptions.
pub const B2B: B2bParams = B2bParams {
    monthly: Sbg {
        alpha: 1.0,
        beta: 15.0,
    },
    yearly: Sbg {
        alpha: 1.0,
        beta: 4.0,
    },
    tier_shares: [0.6, 0.3, 0.1],
    yearly_share: [0.15, 0.25, 0.5],
    plan_prices: [4_900, 19_900, 89_000],
    yearly_price_months: 10,
    english_share: 0.2,
    usage_drop_share: 0.7,
    usage_drop_weeks: (4.0, 12.0),
    active_users_median: [6.0, 30.0, 150.0],
};

/// One stated churn factor of the B2B accounts: how often its warning sign shows
/// before a renewal at which the account leaves, and before one it renews at (per
/// plan period). By Bayes' rule the sign multiplies the odds of leaving at that
/// renewal by `leave / stay` when it shows and by `(1 − leave) / (1 − stay)` when it
/// does not (see [`ChurnFactor::odds_ratio`] and `docs/demo.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChurnFactor {
    /// The factor's key, as the health model names its feature.
    pub key: &'static str,
    /// P(sign | the account leaves at the renewal).
    pub leave: f64,
    /// P(sign | the account renews), monthly plans.
    pub stay_monthly: f64,
    /// P(sign | the account renews), yearly plans.
    pub stay_yearly: f64,
}

impl ChurnFactor {
    /// How the sign (or its absence) multiplies the odds of leaving at a renewal.
    pub fn odds_ratio(&self, shows: bool, yearly: bool) -> f64 {
        let stay = if yearly {
            self.stay_yearly
        } else {
            self.stay_monthly
        };
        if shows {
            self.leave / stay
        } else {
            (1.0 - self.leave) / (1.0 - stay)
        }
    }

    /// The probability of leaving at a renewal for an account whose sBG churn
    /// probability is `theta`, given which signs show: the odds `θ / (1 − θ)` times
    /// every factor's odds ratio.
    pub fn leave_probability(theta: f64, yearly: bool, signs: &[(ChurnFactor, bool)]) -> f64 {
        let odds = signs.iter().fold(theta / (1.0 - theta), |o, (f, shows)| {
            o * f.odds_ratio(*shows, yearly)
        });
        odds / (1.0 + odds)
    }
}

/// The stated churn factors of the B2B accounts, in the order of the flags in the
/// generator: falling usage, a detractor's answer, our mistakes, no proactive contact.
///
/// - `usage_trend`: usage falls from 4-12 weeks before the renewal to 15-50 % of its
///   level at the renewal (an account that renews recovers over the 6 weeks after).
/// - `last_nps_group`: a pulse NPS answer of 0-6, 15-90 days before the renewal.
/// - `trust_balance`: two cases that were our fault, 15-75 days before the renewal,
///   both put right late (four debits of the trust ledger).
/// - `days_since_proactive`: no proactive contact (check-in, kick-off) in the 150 days
///   before the renewal.
pub const CHURN_FACTORS: [ChurnFactor; 4] = [
    ChurnFactor {
        key: "usage_trend",
        leave: 0.7,
        stay_monthly: 0.03,
        stay_yearly: 0.15,
    },
    ChurnFactor {
        key: "last_nps_group",
        leave: 0.5,
        stay_monthly: 0.02,
        stay_yearly: 0.1,
    },
    ChurnFactor {
        key: "trust_balance",
        leave: 0.35,
        stay_monthly: 0.02,
        stay_yearly: 0.1,
    },
    ChurnFactor {
        key: "days_since_proactive",
        leave: 0.5,
        stay_monthly: 0.03,
        stay_yearly: 0.15,
    },
];

/// Onboarding (accounts won in the last [`ONBOARDING.recent_days`] days): the share
/// whose every due step was done on time, among accounts that leave at a renewal in
/// their first 180 days and among the others. A completed onboarding lowers the odds
/// of leaving in the first 180 days by `on_time_leave / on_time_stay` (0.35).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OnboardingParams {
    /// Accounts won this many days before `as_of` or later have an onboarding.
    pub recent_days: i64,
    /// P(every due step done on time | leaves within 180 days of the start).
    pub on_time_leave: f64,
    /// P(every due step done on time | stays beyond 180 days).
    pub on_time_stay: f64,
}

/// The demo's onboarding draws.
pub const ONBOARDING: OnboardingParams = OnboardingParams {
    recent_days: 270,
    on_time_leave: 0.3,
    on_time_stay: 0.85,
};

/// A demo user who signs in: `kanta demo` creates it, with the admin's password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoUser {
    pub email: &'static str,
    pub name: &'static str,
    /// The staff row with the same email (`kanta_store` matches "my customers" by it).
    pub staff_id: &'static str,
}

/// The B2B firm's account manager who signs in to the demo (role staff) and owns the
/// [`PLANTED`] accounts among others.
pub const ACCOUNT_MANAGER: DemoUser = DemoUser {
    email: "laura.salonen@pilvitaito.example",
    name: "Laura Salonen",
    staff_id: "b2b-staff-03",
};

/// The accounts planted for the contact queue (the first four accounts, when there
/// are that many), each with what it shows: the queue's reason key, or `healthy`.
pub const PLANTED: [(&str, &str); 4] = [
    ("b2b-001", "usage_drop"),
    ("b2b-002", "detractor"),
    ("b2b-003", "trust_deficit"),
    ("b2b-004", "healthy"),
];

/// The trust ledger of both businesses: +1 per job done well, −10 per mistake.
pub const TRUST: TrustParams = TrustParams {
    credit: 1,
    debit: -10,
};

/// An SLA policy: a first-response and a resolution target, in business hours (Mon-Fri
/// 08-16 Helsinki, Finnish public holidays off) or calendar hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlaPolicy {
    pub severity: &'static str,
    pub first_response_hours: f64,
    pub resolution_hours: f64,
    pub business: bool,
}

/// The store's default SLA policies (settings `sla_low` ... `sla_critical`), by severity
/// from the least: the demo's cases are put right within or after these targets.
pub const SLA_POLICIES: [SlaPolicy; 4] = [
    SlaPolicy {
        severity: "low",
        first_response_hours: 16.0,
        resolution_hours: 80.0,
        business: true,
    },
    SlaPolicy {
        severity: "normal",
        first_response_hours: 8.0,
        resolution_hours: 40.0,
        business: true,
    },
    SlaPolicy {
        severity: "high",
        first_response_hours: 4.0,
        resolution_hours: 16.0,
        business: true,
    },
    SlaPolicy {
        severity: "critical",
        first_response_hours: 1.0,
        resolution_hours: 8.0,
        business: false,
    },
];

/// The small-claim rule's default threshold (setting `small_claim_limit`), cents:
/// claims up to it are approved at once.
pub const SMALL_CLAIM_LIMIT: i64 = 5_000;

/// The built-in recovery effect (café): how a customer's first case ends decides
/// whether they buy again within 180 days of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecoveryParams {
    /// Share of first cases (opened more than 30 days before `as_of`) put right within
    /// the targets, late, and never (the rest of the recent ones stay open).
    pub outcome_shares: [f64; 3],
    /// Probability of a purchase within 180 days of the first case, by its outcome:
    /// within the targets, late, never put right.
    pub repurchase_180: [f64; 3],
    /// The same for customers who never had a case, from their first purchase (what
    /// BG/NBD gives: `1 − (α/(α + 180/7))^r` = 0.887, a little lower among those
    /// without a case, who buy less often).
    pub never_repurchase_180: f64,
}

/// The café's built-in recovery effect (see `docs/demo.md`).
pub const RECOVERY: RecoveryParams = RecoveryParams {
    outcome_shares: [0.5, 0.25, 0.25],
    repurchase_180: [0.92, 0.65, 0.30],
    never_repurchase_180: 0.87,
};

/// Plan names, in the order of [`B2bParams::plan_prices`].
pub const PLANS: [&str; 3] = ["Perus", "Pro", "Enterprise"];

/// Size tiers, in the order of [`B2bParams::tier_shares`]; the segment is
/// `b2b-<tier>`.
pub const TIERS: [&str; 3] = ["small", "mid", "enterprise"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        assert!((CAFE.spend.mean_spend() - 8.0).abs() < 1e-12);
        // alpha = 1: S(t) = beta / (beta + t).
        for t in 0..40 {
            let s = B2B.monthly.survival(t);
            assert!((s - 15.0 / (15.0 + f64::from(t))).abs() < 1e-12, "{t}: {s}");
        }
        assert!((B2B.yearly.retention(1) - 0.8).abs() < 1e-12);
        assert!((CAFE.purchases.prob_no_repeat(0.0) - 1.0).abs() < 1e-12);
    }
}
