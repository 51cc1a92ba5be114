//! Offers with a control group: the uplift's statistics.
//!
//! An offer goes to an audience; a share of it, drawn at random within each value
//! tier, is the **control group**, who are not told. After the offer's window the
//! two arms are compared per customer on three metrics: purchased (0/1), orders
//! and revenue (net of refunds).
//!
//! - The draw of the control group is a rule of the domain (`kanta_domain::draw`:
//!   the demo knows its groups in advance with it); this crate depends on no other
//!   Kanta crate, and uses it only in its tests.
//! - [`compare`]: for one metric, the arms' means, the **absolute difference**
//!   `mT − mC` with a **Welch** t 95% interval (standard error
//!   `√(sT²/nT + sC²/nC)`, Welch–Satterthwaite degrees of freedom
//!   `(vT + vC)² / (vT²/(nT − 1) + vC²/(nC − 1))`, `v = s²/n`), and the **relative
//!   lift** `mT/mC − 1` with a **delta-method** interval: the ratio's variance
//!   `vT/mC² + mT² vC/mC⁴` (first-order Taylor; GrowthBook's form), a normal 95%
//!   interval around it.
//! - [`sample_size_per_arm`]: customers per arm to detect a rise of `points`
//!   percentage points in the purchase rate from `p1` at 80 % power, two-sided
//!   alpha 0.05: `n = (z.975 + z.8)² (p1 q1 + p2 q2) / d²`, rounded up (25 % → 20 %
//!   needs 1,091 per arm).
//! - [`analyse`] / [`analyse_arms`] / [`analyse_sums`]: an offer's members and
//!   outcomes (or the arms' sizes and the outcomes of those who bought anything, or
//!   their sums and sums of squares) to an [`Uplift`]: the three
//!   metrics, net revenue per customer after the offer's cost (redemptions × cost per
//!   redemption / offer-arm size, taken off the revenue difference), and the "not
//!   enough data yet" verdict (window not ended, or an arm smaller than the sample
//!   size the hoped effect needs).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The normal quantile of a two-sided 95% interval.
pub const Z975: f64 = 1.959_963_984_540_054;
/// The normal quantile for 80 % power.
pub const Z80: f64 = 0.841_621_233_572_914_3;

// ---------------------------------------------------------------------------
// Statistics

/// Count, mean and sample variance (n − 1) of one arm's values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Moments {
    /// Customers.
    pub n: u64,
    /// The mean per customer.
    pub mean: f64,
    /// The sample variance (0 below two values).
    pub var: f64,
}

impl Moments {
    /// The moments of `values` (two passes, so large sums lose no precision).
    pub fn of(values: &[f64]) -> Moments {
        Moments::with_zeros(values, 0)
    }

    /// The moments of `n` values from their sum and the sum of their squares (one
    /// pass, as a database sums them; exact enough for counts and money in minor
    /// units, whose spread is not tiny beside their mean).
    pub fn from_sums(n: u64, sum: f64, sum_squares: f64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        let var = if n > 1 {
            ((sum_squares - sum * mean) / (n - 1) as f64).max(0.0)
        } else {
            0.0
        };
        Moments { n, mean, var }
    }

    /// The moments of `values` and `zeros` more values that are 0 (an arm whose
    /// members mostly bought nothing, read without a row for each of them).
    pub fn with_zeros(values: &[f64], zeros: u64) -> Moments {
        let n = values.len() as u64 + zeros;
        if n == 0 {
            return Moments::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() + zeros as f64 * mean * mean)
                / (n - 1) as f64
        } else {
            0.0
        };
        Moments { n, mean, var }
    }
}

/// A figure with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The estimate.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

impl Interval {
    /// Whether the interval holds `x`.
    pub fn covers(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// The same interval moved by `by`.
    pub fn shifted(&self, by: f64) -> Interval {
        Interval {
            estimate: self.estimate + by,
            low: self.low + by,
            high: self.high + by,
        }
    }
}

/// Welch's unequal-variances t comparison of two means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    /// `mean_a − mean_b` with its Welch t 95% interval.
    pub diff: Interval,
    /// The difference's standard error.
    pub se: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// The t statistic.
    pub t: f64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// Welch's t test of `a − b`: `None` when an arm has fewer than two values. When
/// both arms have no variance the difference is exact (a zero-width interval, df
/// infinite, p 1 or 0).
pub fn welch(a: &Moments, b: &Moments) -> Option<Welch> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let va = a.var / a.n as f64;
    let vb = b.var / b.n as f64;
    let diff = a.mean - b.mean;
    let se = (va + vb).sqrt();
    if se == 0.0 || !se.is_finite() {
        return Some(Welch {
            diff: Interval {
                estimate: diff,
                low: diff,
                high: diff,
            },
            se: 0.0,
            df: f64::INFINITY,
            t: if diff == 0.0 { 0.0 } else { f64::INFINITY },
            p_value: if diff == 0.0 { 1.0 } else { 0.0 },
        });
    }
    let df = (va + vb).powi(2) / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let t = diff / se;
    let (q, p) = match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => (dist.inverse_cdf(0.975), 2.0 * dist.cdf(-t.abs())),
        Err(_) => {
            let n = Normal::new(0.0, 1.0).expect("standard normal");
            (Z975, 2.0 * n.cdf(-t.abs()))
        }
    };
    Some(Welch {
        diff: Interval {
            estimate: diff,
            low: diff - q * se,
            high: diff + q * se,
        },
        se,
        df,
        t,
        p_value: p.clamp(0.0, 1.0),
    })
}

/// The relative lift `mean_t / mean_c − 1` with a delta-method normal 95%
/// interval: `Var(mT/mC) ≈ vT/mC² + mT² vC/mC⁴` with `v = s²/n`. `None` when the
/// control mean is zero or an arm has fewer than two values.
pub fn relative_lift(t: &Moments, c: &Moments) -> Option<Interval> {
    if t.n < 2 || c.n < 2 || c.mean == 0.0 {
        return None;
    }
    let vt = t.var / t.n as f64;
    let vc = c.var / c.n as f64;
    let mc2 = c.mean * c.mean;
    let var = vt / mc2 + t.mean * t.mean * vc / (mc2 * mc2);
    let est = t.mean / c.mean - 1.0;
    let half = Z975 * var.max(0.0).sqrt();
    Some(Interval {
        estimate: est,
        low: est - half,
        high: est + half,
    })
}

/// One metric compared between the offer arm and the control arm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricComparison {
    /// The offer arm.
    pub offer: Moments,
    /// The control arm.
    pub control: Moments,
    /// Offer − control, Welch t 95% interval (`None` below two per arm).
    pub absolute: Option<Welch>,
    /// Offer / control − 1, delta-method 95% interval (`None` when the control
    /// mean is 0 or below two per arm).
    pub relative: Option<Interval>,
}

/// Compares one metric's per-customer values of the offer arm and the control arm.
pub fn compare(offer: &[f64], control: &[f64]) -> MetricComparison {
    compare_moments(Moments::of(offer), Moments::of(control))
}

/// [`compare`] from the arms' moments.
pub fn compare_moments(offer: Moments, control: Moments) -> MetricComparison {
    MetricComparison {
        offer,
        control,
        absolute: welch(&offer, &control),
        relative: relative_lift(&offer, &control),
    }
}

/// Customers per arm needed to detect a rise of `points` percentage points in a
/// purchase rate `p1` (a share, 0-1) at 80 % power and two-sided alpha 0.05:
/// `(z.975 + z.8)² (p1 q1 + p2 q2) / d²` with `p2 = p1 + points / 100` (or
/// `p1 − points / 100` when the rise would pass 100 %), rounded up. `None` when `points` is not positive or `p1` is not a
/// share.
pub fn sample_size_per_arm(p1: f64, points: f64) -> Option<u64> {
    if points.is_nan() || points <= 0.0 || !(0.0..=1.0).contains(&p1) {
        return None;
    }
    let d = points / 100.0;
    // A rise past 100 % cannot happen: size the same change downwards instead.
    let p2 = if p1 + d <= 1.0 { p1 + d } else { p1 - d };
    if !(0.0..=1.0).contains(&p2) {
        return None;
    }
    let zz = (Z975 + Z80).powi(2);
    let n = zz * (p1 * (1.0 - p1) + p2 * (1.0 - p2)) / (d * d);
    Some(n.ceil().max(2.0) as u64)
}

// ---------------------------------------------------------------------------
// An offer's uplift

/// One member's outcome in the offer's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemberOutcome {
    /// In the control group.
    pub control: bool,
    /// Orders in the window (refunds not counted).
    pub orders: u32,
    /// Revenue in the window net of refunds, minor units.
    pub revenue_minor: i64,
}

/// What an offer's uplift rests on besides the members' outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UpliftInputs {
    /// Redemptions counted in the window (offer arm).
    pub redemptions: u64,
    /// What one redemption costs, minor units (0 when unset).
    pub cost_per_redemption_minor: i64,
    /// The rise in the purchase rate hoped for, percentage points.
    pub hoped_points: f64,
    /// Whether the offer's window has ended.
    pub window_ended: bool,
}

/// Why an offer's uplift is not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotYet {
    /// The window has not ended.
    WindowOpen,
    /// An arm is smaller than the sample size the hoped effect needs.
    TooFew,
}

/// An offer's uplift: three metrics compared between the arms, net revenue after
/// the offer's cost, and whether there is enough data to read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uplift {
    /// Members in the offer arm.
    pub n_offer: u64,
    /// Members in the control arm.
    pub n_control: u64,
    /// Purchased in the window (0/1): the purchase rate.
    pub purchase: MetricComparison,
    /// Orders per customer.
    pub orders: MetricComparison,
    /// Revenue per customer (minor units), net of refunds.
    pub revenue: MetricComparison,
    /// The offer's cost per offer-arm customer (redemptions × cost / offer arm),
    /// minor units.
    pub cost_per_member_minor: f64,
    /// Revenue per customer difference minus the cost per offer-arm customer, with
    /// the revenue difference's interval moved by the same amount.
    pub net_revenue: Option<Interval>,
    /// Customers per arm the hoped rise needs (from the control's purchase rate).
    pub needed_per_arm: Option<u64>,
    /// `None` when the figures can be read; else why not yet.
    pub not_yet: Option<NotYet>,
}

/// Computes an offer's uplift from its members' outcomes.
pub fn analyse(members: &[MemberOutcome], inputs: &UpliftInputs) -> Uplift {
    let n_control = members.iter().filter(|m| m.control).count() as u64;
    analyse_arms(members.len() as u64 - n_control, n_control, members, inputs)
}

/// One arm's outcomes summed: its members, and over those who bought or were refunded
/// anything in the window (every other member counts as 0): buyers, the sums and sums
/// of squares of orders and revenue (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ArmSums {
    /// Members of the arm.
    pub members: u64,
    /// Members with an order in the window.
    pub buyers: u64,
    /// Orders summed over the members.
    pub orders: f64,
    /// Each member's orders squared, summed.
    pub orders_squared: f64,
    /// Revenue (minor units, net of refunds) summed over the members.
    pub revenue: f64,
    /// Each member's revenue squared, summed.
    pub revenue_squared: f64,
}

/// [`analyse`] from the arms' sums (what the offer report reads from the store).
pub fn analyse_sums(offer: &ArmSums, control: &ArmSums, inputs: &UpliftInputs) -> Uplift {
    let purchase = compare_moments(
        Moments::from_sums(offer.members, offer.buyers as f64, offer.buyers as f64),
        Moments::from_sums(
            control.members,
            control.buyers as f64,
            control.buyers as f64,
        ),
    );
    let orders = compare_moments(
        Moments::from_sums(offer.members, offer.orders, offer.orders_squared),
        Moments::from_sums(control.members, control.orders, control.orders_squared),
    );
    let revenue = compare_moments(
        Moments::from_sums(offer.members, offer.revenue, offer.revenue_squared),
        Moments::from_sums(control.members, control.revenue, control.revenue_squared),
    );
    finish(
        offer.members,
        control.members,
        purchase,
        orders,
        revenue,
        inputs,
    )
}

/// [`analyse`] for arms of `n_offer` and `n_control` members of whom only those in
/// `active` bought or were refunded anything: every other member counts as 0 orders
/// and 0 revenue. `active` must not hold more members of an arm than its size.
pub fn analyse_arms(
    n_offer: u64,
    n_control: u64,
    active: &[MemberOutcome],
    inputs: &UpliftInputs,
) -> Uplift {
    let (mut pt, mut pc, mut ot, mut oc, mut rt, mut rc) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for m in active {
        let (p, o, r) = if m.control {
            (&mut pc, &mut oc, &mut rc)
        } else {
            (&mut pt, &mut ot, &mut rt)
        };
        p.push(if m.orders > 0 { 1.0 } else { 0.0 });
        o.push(f64::from(m.orders));
        r.push(m.revenue_minor as f64);
    }
    let n_offer = n_offer.max(pt.len() as u64);
    let n_control = n_control.max(pc.len() as u64);
    let arms = |t: &[f64], c: &[f64]| {
        compare_moments(
            Moments::with_zeros(t, n_offer - t.len() as u64),
            Moments::with_zeros(c, n_control - c.len() as u64),
        )
    };
    let purchase = arms(&pt, &pc);
    let orders = arms(&ot, &oc);
    let revenue = arms(&rt, &rc);
    finish(n_offer, n_control, purchase, orders, revenue, inputs)
}

/// The uplift from the three metrics compared: net revenue and the verdict.
fn finish(
    n_offer: u64,
    n_control: u64,
    purchase: MetricComparison,
    orders: MetricComparison,
    revenue: MetricComparison,
    inputs: &UpliftInputs,
) -> Uplift {
    let cost_per_member_minor = if n_offer > 0 {
        inputs.redemptions as f64 * inputs.cost_per_redemption_minor as f64 / n_offer as f64
    } else {
        0.0
    };
    let net_revenue = revenue
        .absolute
        .map(|w| w.diff.shifted(-cost_per_member_minor));
    let needed_per_arm = sample_size_per_arm(purchase.control.mean, inputs.hoped_points);
    let not_yet = if !inputs.window_ended {
        Some(NotYet::WindowOpen)
    } else if n_offer < 2
        || n_control < 2
        || needed_per_arm.is_some_and(|n| n_offer.min(n_control) < n)
    {
        Some(NotYet::TooFew)
    } else {
        None
    };
    Uplift {
        n_offer,
        n_control,
        purchase,
        orders,
        revenue,
        cost_per_member_minor,
        net_revenue,
        needed_per_arm,
        not_yet,
    }
}

#[cfg(test)]
mod tests {
    use kanta_domain::draw::draw_control;

    #[test]
    fn draw_sizes_per_tier() {
        let ids: Vec<String> = (0..101).map(|i| format!("c{i:03}")).collect();
        let members: Vec<(&str, &str)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), if i < 51 { "A" } else { "B" }))
            .collect();
        let c = draw_control(&members, 20, 7);
        let a = c[..51].iter().filter(|x| **x).count();
        let b = c[51..].iter().filter(|x| **x).count();
        assert_eq!((a, b), (10, 10)); // round(10.2), round(10.0)
        // deterministic, and independent of the input order
        let mut rev = members.clone();
        rev.reverse();
        let mut c2 = draw_control(&rev, 20, 7);
        c2.reverse();
        assert_eq!(c, c2);
        assert_ne!(c, draw_control(&members, 20, 8));
    }

    /// The arms' sizes and the active members only give the same uplift as every
    /// member's row (the report reads no row for members who bought nothing).
    #[test]
    fn arms_without_the_zero_rows() {
        use super::*;
        let mut all = Vec::new();
        for i in 0..1000u32 {
            let control = i % 5 == 0;
            let (orders, revenue_minor) = match i % 7 {
                0 => (1, 1250 + i64::from(i)),
                3 => (2, 4000),
                5 => (0, -500), // only a refund
                _ => (0, 0),
            };
            all.push(MemberOutcome {
                control,
                orders,
                revenue_minor,
            });
        }
        let inputs = UpliftInputs {
            redemptions: 10,
            cost_per_redemption_minor: 100,
            hoped_points: 5.0,
            window_ended: true,
        };
        let full = analyse(&all, &inputs);
        let active: Vec<MemberOutcome> = all
            .iter()
            .copied()
            .filter(|m| m.orders > 0 || m.revenue_minor != 0)
            .collect();
        assert!(active.len() < 600);
        let sparse = analyse_arms(800, 200, &active, &inputs);
        let close = |a: &Moments, b: &Moments| {
            assert_eq!(a.n, b.n);
            assert!((a.mean - b.mean).abs() < 1e-9 * a.mean.abs().max(1.0));
            assert!((a.var - b.var).abs() < 1e-9 * a.var.abs().max(1.0));
        };
        for (a, b) in [
            (&full.purchase, &sparse.purchase),
            (&full.orders, &sparse.orders),
            (&full.revenue, &sparse.revenue),
        ] {
            close(&a.offer, &b.offer);
            close(&a.control, &b.control);
        }
        assert_eq!(full.not_yet, sparse.not_yet);
        // The same from sums, as the store reads them.
        let sums = |control: bool| {
            let mut a = ArmSums {
                members: if control { 200 } else { 800 },
                ..ArmSums::default()
            };
            for m in active.iter().filter(|m| m.control == control) {
                a.buyers += u64::from(m.orders > 0);
                a.orders += f64::from(m.orders);
                a.orders_squared += f64::from(m.orders).powi(2);
                a.revenue += m.revenue_minor as f64;
                a.revenue_squared += (m.revenue_minor as f64).powi(2);
            }
            a
        };
        let summed = analyse_sums(&sums(false), &sums(true), &inputs);
        for (a, b) in [
            (&full.purchase, &summed.purchase),
            (&full.orders, &summed.orders),
            (&full.revenue, &summed.revenue),
        ] {
            close(&a.offer, &b.offer);
            close(&a.control, &b.control);
        }
        assert_eq!(full.not_yet, summed.not_yet);
        assert_eq!(full.needed_per_arm, sparse.needed_per_arm);
        let (f, s) = (full.net_revenue.unwrap(), sparse.net_revenue.unwrap());
        assert!((f.low - s.low).abs() < 1e-6 && (f.high - s.high).abs() < 1e-6);
    }
}
