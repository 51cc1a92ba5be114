//! Model inputs: validated, collapsed, weighted rows.
//!
//! Identical rows collapse into one row with a weight (the number of customers who
//! share it), so the cost of a likelihood evaluation grows with the number of
//! *distinct* rows, not customers. Each type validates once on construction; the
//! models can then trust it.
//!
//! Collapsing ranks each column's values (by hashing where a column has few
//! distinct values, by a bucket sort where it has many, as recency and T in
//! continuous time), packs the three ranks into one integer and radix-sorts those:
//! about 0.1 s for a million rows whether they collapse or not.

use std::cmp::Ordering;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, invalid_row};
use crate::prec;

/// One customer's purchase history in lifetimes' conventions (continuous time).
///
/// * `frequency` (x): number of repeat purchases (the first purchase is not counted),
///   a whole number;
/// * `recency` (t_x): time from the first to the last purchase, 0 when `frequency` is 0;
/// * `t` (T, serialised as `T`): time from the first purchase to the end of observation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfmRow {
    /// Repeat purchases, x.
    pub frequency: f64,
    /// Time of the last repeat purchase since the first purchase, t_x.
    pub recency: f64,
    /// Age of the customer at the end of observation, T.
    #[serde(rename = "T")]
    pub t: f64,
}

impl RfmRow {
    /// A row; not validated until it goes into [`RfmData`].
    pub fn new(frequency: f64, recency: f64, t: f64) -> Self {
        RfmRow {
            frequency,
            recency,
            t,
        }
    }

    /// Check lifetimes' rules for one row (`row` is its position, for the error).
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`] naming the field.
    pub fn validate(&self, row: usize) -> Result<()> {
        let RfmRow {
            frequency,
            recency,
            t,
        } = *self;
        if !frequency.is_finite() || frequency < 0.0 || frequency.fract() != 0.0 {
            return Err(invalid_row(
                row,
                "frequency",
                format!("must be a whole number >= 0, got {frequency}"),
            ));
        }
        if !recency.is_finite() || recency < 0.0 {
            return Err(invalid_row(
                row,
                "recency",
                format!("must be >= 0, got {recency}"),
            ));
        }
        if !t.is_finite() || t < 0.0 {
            return Err(invalid_row(row, "T", format!("must be >= 0, got {t}")));
        }
        if recency > t {
            return Err(invalid_row(
                row,
                "recency",
                format!("{recency} is larger than T = {t}"),
            ));
        }
        if frequency == 0.0 && recency != 0.0 {
            return Err(invalid_row(
                row,
                "recency",
                format!("must be 0 when frequency is 0, got {recency}"),
            ));
        }
        Ok(())
    }

    fn cmp_key(&self, other: &Self) -> Ordering {
        self.frequency
            .total_cmp(&other.frequency)
            .then(self.recency.total_cmp(&other.recency))
            .then(self.t.total_cmp(&other.t))
    }
}

fn check_weight(row: usize, w: f64) -> Result<()> {
    if !w.is_finite() || w <= 0.0 {
        return Err(invalid_row(row, "weight", format!("must be > 0, got {w}")));
    }
    Ok(())
}

/// Sort `(key, weight)` pairs and merge equal keys, summing weights.
fn collapse<K: Copy + Send>(
    mut items: Vec<(K, f64)>,
    cmp: impl Fn(&K, &K) -> Ordering + Sync,
) -> Vec<(K, f64)> {
    if items.len() > prec::PARALLEL_MIN_ROWS {
        items.par_sort_unstable_by(|a, b| cmp(&a.0, &b.0));
    } else {
        items.sort_unstable_by(|a, b| cmp(&a.0, &b.0));
    }
    let mut out: Vec<(K, f64)> = Vec::with_capacity(items.len().min(1 << 16));
    for (k, w) in items {
        match out.last_mut() {
            Some(last) if cmp(&last.0, &k) == Ordering::Equal => last.1 += w,
            _ => out.push((k, w)),
        }
    }
    out
}

/// Distinct sorted values and, for each input value, its index among them.
fn index_table(values: impl Iterator<Item = f64> + Clone) -> (Vec<f64>, Vec<u32>) {
    let mut distinct: Vec<f64> = values.clone().collect();
    distinct.sort_unstable_by(f64::total_cmp);
    // Equal by the same order as the search below (-0 and 0 differ).
    distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let idx = values
        .map(|v| {
            distinct
                .binary_search_by(|d| d.total_cmp(&v))
                .expect("value is in the table") as u32
        })
        .collect();
    (distinct, idx)
}

/// An `f64` as an integer with the order of [`f64::total_cmp`].
fn total_order_bits(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// The inverse of [`total_order_bits`].
fn from_total_order_bits(b: u64) -> f64 {
    f64::from_bits(if b >> 63 == 1 { b & !(1 << 63) } else { !b })
}

/// A column with more distinct values than this is ranked by sorting instead of
/// hashing: a hash table that outgrows the caches costs more than a radix sort.
const HASHED_RANKS_MAX: usize = 1 << 16;

/// One column's distinct values, sorted by [`f64::total_cmp`], and each row's rank
/// among them.
struct Ranks {
    values: Vec<f64>,
    rank: Vec<u32>,
}

impl Ranks {
    fn of(rows: &[RfmRow], column: impl Fn(&RfmRow) -> f64) -> Ranks {
        Self::by_hashing(rows, &column).unwrap_or_else(|| Self::by_sorting(rows, &column))
    }

    /// Number the distinct values as they come (a column of whole numbers or dates
    /// has few of them), then renumber by order. `None` once there are more than
    /// [`HASHED_RANKS_MAX`].
    fn by_hashing(rows: &[RfmRow], column: impl Fn(&RfmRow) -> f64) -> Option<Ranks> {
        let mut first_seen: FxHashMap<u64, u32> = FxHashMap::default();
        let mut seen: Vec<u64> = Vec::new();
        let mut rank: Vec<u32> = Vec::with_capacity(rows.len());
        for r in rows {
            let k = total_order_bits(column(r));
            let next = seen.len() as u32;
            let id = *first_seen.entry(k).or_insert(next);
            if id == next {
                seen.push(k);
                if seen.len() > HASHED_RANKS_MAX {
                    return None;
                }
            }
            rank.push(id);
        }
        let mut order: Vec<u32> = (0..seen.len() as u32).collect();
        order.sort_unstable_by_key(|&i| seen[i as usize]);
        let mut renumber = vec![0u32; seen.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old as usize] = new as u32;
        }
        for r in &mut rank {
            *r = renumber[*r as usize];
        }
        let values = order
            .iter()
            .map(|&i| from_total_order_bits(seen[i as usize]))
            .collect();
        Some(Ranks { values, rank })
    }

    /// Sort the values with their row numbers and number them in that order: for
    /// columns whose values are nearly all distinct, as recency and T in
    /// continuous time. A bucket sort: the range of the values is cut into about
    /// `n / 4` equal buckets (a monotone map, so the buckets come in order), the
    /// pairs are scattered into them and each bucket is sorted by
    /// [`f64::total_cmp`] and then row (a handful of pairs each for data spread
    /// over its range; skewed data only makes some buckets larger).
    fn by_sorting(rows: &[RfmRow], column: impl Fn(&RfmRow) -> f64) -> Ranks {
        let n = rows.len();
        let (lo, hi) = rows
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                let v = column(r);
                (lo.min(v), hi.max(v))
            });
        let buckets = (n / 4).max(1);
        let scale = buckets as f64 / (hi - lo);
        let scale = if scale.is_finite() { scale } else { 0.0 };
        // Truncation saturates; the values are finite and >= lo.
        let bucket = |v: f64| (((v - lo) * scale) as usize).min(buckets - 1);
        let mut start = vec![0u32; buckets + 1];
        for r in rows {
            start[bucket(column(r)) + 1] += 1;
        }
        for b in 0..buckets {
            start[b + 1] += start[b];
        }
        let mut fill = start.clone();
        let mut pairs = vec![(0.0f64, 0u32); n];
        for (i, r) in rows.iter().enumerate() {
            let v = column(r);
            let b = bucket(v);
            pairs[fill[b] as usize] = (v, i as u32);
            fill[b] += 1;
        }
        let mut rank = vec![0u32; n];
        let mut values: Vec<f64> = Vec::new();
        for b in 0..buckets {
            let part = &mut pairs[start[b] as usize..start[b + 1] as usize];
            part.sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
            for &(v, i) in part.iter() {
                if values.last().is_none_or(|l| l.total_cmp(&v).is_ne()) {
                    values.push(v);
                }
                rank[i as usize] = (values.len() - 1) as u32;
            }
        }
        Ranks { values, rank }
    }

    /// Bits needed for a rank.
    fn bits(&self) -> u32 {
        u32::BITS - (self.values.len() as u32).saturating_sub(1).leading_zeros()
    }
}

/// Largest `max T` in grid steps that [`RfmData::on_grid`] handles.
const GRID_MAX_STEPS: f64 = 4096.0;

/// Largest dense array of grid cells (frequencies × recency × T) that
/// [`RfmData::on_grid`] allocates: 128 MB.
const GRID_MAX_CELLS: usize = 1 << 24;

/// Bits per radix-sort pass: 2048 counters, which stay in the L1 cache.
const RADIX_BITS: u32 = 11;

/// Stable least-significant-digit radix sort of `(key, value)` pairs by keys of
/// `bits` bits, in passes of at most [`RADIX_BITS`] bits.
pub(crate) fn radix_sort(items: &mut Vec<(u64, f64)>, bits: u32) {
    if bits == 0 || items.len() < 2 {
        return;
    }
    let passes = bits.div_ceil(RADIX_BITS);
    let width = bits.div_ceil(passes);
    let mask = (1u64 << width) - 1;
    let mut from = std::mem::take(items);
    let mut to = vec![(0u64, 0.0f64); from.len()];
    let mut counts = vec![0usize; 1 << width];
    for p in 0..passes {
        let shift = p * width;
        counts.fill(0);
        for (k, _) in &from {
            counts[((k >> shift) & mask) as usize] += 1;
        }
        let mut at = 0;
        for c in &mut counts {
            let n = *c;
            *c = at;
            at += n;
        }
        for &(k, w) in &from {
            let d = ((k >> shift) & mask) as usize;
            to[counts[d]] = (k, w);
            counts[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *items = from;
}

/// Validated, collapsed (frequency, recency, T) data with weights, for BG/NBD,
/// MBG/NBD and Pareto/NBD.
///
/// Rows are sorted by (frequency, recency, T). Besides the rows it keeps tables of
/// the distinct values of each column, so per-evaluation work on special functions
/// (log-gamma of `r + x`, `ln(alpha + T)`, ...) is done once per distinct value.
#[derive(Clone, Debug)]
pub struct RfmData {
    rows: Vec<RfmRow>,
    weights: Vec<f64>,
    total_weight: f64,
    pub(crate) x_values: Vec<f64>,
    pub(crate) x_idx: Vec<u32>,
    pub(crate) tx_values: Vec<f64>,
    pub(crate) tx_idx: Vec<u32>,
    pub(crate) t_values: Vec<f64>,
    pub(crate) t_idx: Vec<u32>,
}

impl RfmData {
    /// Validate customer rows and collapse identical ones (weight = count).
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`] for the first invalid row;
    /// [`ModelError::Empty`] for no rows.
    pub fn from_rows(rows: &[RfmRow]) -> Result<Self> {
        for (i, r) in rows.iter().enumerate() {
            r.validate(i)?;
        }
        Self::build(rows, None)
    }

    /// Validate rows that already carry weights (e.g. counts from a `GROUP BY`),
    /// collapsing any remaining duplicates.
    ///
    /// # Errors
    ///
    /// As [`RfmData::from_rows`], plus a weight that is not positive, or a length
    /// mismatch.
    pub fn from_weighted_rows(rows: &[RfmRow], weights: &[f64]) -> Result<Self> {
        if rows.len() != weights.len() {
            return Err(ModelError::InvalidParameter {
                name: "weights",
                reason: format!("has {} entries for {} rows", weights.len(), rows.len()),
            });
        }
        for (i, (r, w)) in rows.iter().zip(weights).enumerate() {
            r.validate(i)?;
            check_weight(i, *w)?;
        }
        Self::build(rows, Some(weights))
    }

    fn build(rows: &[RfmRow], weights: Option<&[f64]>) -> Result<Self> {
        if rows.is_empty() {
            return Err(ModelError::Empty("no customer rows"));
        }
        Ok(Self::build_by_ranks(rows, weights)
            .unwrap_or_else(|| Self::build_by_sorting(rows, weights)))
    }

    /// Sort the rows by (frequency, recency, T) and merge equal ones.
    fn build_by_sorting(rows: &[RfmRow], weights: Option<&[f64]>) -> Self {
        let items = match weights {
            Some(w) => rows.iter().copied().zip(w.iter().copied()).collect(),
            None => rows.iter().map(|r| (*r, 1.0)).collect(),
        };
        let merged = collapse(items, RfmRow::cmp_key);
        let (rows, weights): (Vec<RfmRow>, Vec<f64>) = merged.into_iter().unzip();
        let total_weight = weights.iter().sum();
        let (x_values, x_idx) = index_table(rows.iter().map(|r| r.frequency));
        let (tx_values, tx_idx) = index_table(rows.iter().map(|r| r.recency));
        let (t_values, t_idx) = index_table(rows.iter().map(|r| r.t));
        RfmData {
            rows,
            weights,
            total_weight,
            x_values,
            x_idx,
            tx_values,
            tx_idx,
            t_values,
            t_idx,
        }
    }

    /// The result of [`RfmData::build_by_sorting`], faster: each
    /// column's values are replaced by their ranks among the column's distinct
    /// values, the three ranks packed into one integer whose order is the rows'
    /// (frequency, recency, T) order, and the packed keys radix-sorted (stably, so
    /// equal rows add their weights in input order). The ranks are then the index
    /// tables. `None` when the ranks do not fit in 64 bits.
    fn build_by_ranks(rows: &[RfmRow], weights: Option<&[f64]>) -> Option<Self> {
        // Frequency has few values and ranks fast; recency and T may have a
        // million each: one of them on each core.
        let ((x, t), tx) = rayon::join(
            || (Ranks::of(rows, |r| r.frequency), Ranks::of(rows, |r| r.t)),
            || Ranks::of(rows, |r| r.recency),
        );
        let (bx, btx, bt) = (x.bits(), tx.bits(), t.bits());
        if bx + btx + bt > 64 || btx + bt >= 64 {
            return None;
        }
        let mut keys: Vec<(u64, f64)> = (0..rows.len())
            .into_par_iter()
            .with_min_len(prec::PARALLEL_CHUNK)
            .map(|i| {
                let k = (u64::from(x.rank[i]) << (btx + bt))
                    | (u64::from(tx.rank[i]) << bt)
                    | u64::from(t.rank[i]);
                (k, weights.map_or(1.0, |w| w[i]))
            })
            .collect();
        radix_sort(&mut keys, bx + btx + bt);
        // Equal keys are adjacent now: count the distinct ones, then fill the
        // columns, adding the weights of equal rows in input order.
        let n = 1 + keys.windows(2).filter(|p| p[0].0 != p[1].0).count();
        let low = |k: u64, bits: u32| (k & ((1u64 << bits) - 1)) as u32;
        let (mut out_rows, mut out_weights) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut x_idx, mut tx_idx, mut t_idx) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut last = None;
        for (k, w) in keys {
            if last == Some(k) {
                *out_weights.last_mut().expect("a row before") += w;
                continue;
            }
            last = Some(k);
            let (i, j, l) = ((k >> (btx + bt)) as u32, low(k >> bt, btx), low(k, bt));
            out_rows.push(RfmRow::new(
                x.values[i as usize],
                tx.values[j as usize],
                t.values[l as usize],
            ));
            out_weights.push(w);
            x_idx.push(i);
            tx_idx.push(j);
            t_idx.push(l);
        }
        let total_weight = out_weights.iter().sum();
        Some(RfmData {
            rows: out_rows,
            weights: out_weights,
            total_weight,
            x_values: x.values,
            x_idx,
            tx_values: tx.values,
            tx_idx,
            t_values: t.values,
            t_idx,
        })
    }

    /// The distinct rows, sorted by (frequency, recency, T).
    pub fn rows(&self) -> &[RfmRow] {
        &self.rows
    }

    /// The weight (number of customers) of each distinct row.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Number of distinct rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Never true: construction rejects empty input.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of customers (sum of weights).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Largest T.
    pub fn max_t(&self) -> f64 {
        self.t_values.last().copied().unwrap_or(0.0)
    }

    /// The data with recency and T rounded to the grid of step `1/g`
    /// (`(v g).round() / g`), identical rows merged: what
    /// [`RfmData::from_weighted_rows`] makes of the rounded rows, built by adding
    /// the weights into a dense array of grid cells per frequency, in one pass
    /// over the rows. `None` where that array would be large (time far beyond
    /// `1`, many distinct frequencies) or a rounded time is `-0`.
    pub(crate) fn on_grid(&self, g: f64) -> Option<RfmData> {
        let cell = |v: f64| (v * g).round();
        let k_max = cell(self.max_t());
        if !(0.0..=GRID_MAX_STEPS).contains(&k_max) {
            return None;
        }
        let side = k_max as usize + 1;
        let cells = self.x_values.len().checked_mul(side * side)?;
        if cells > GRID_MAX_CELLS {
            return None;
        }
        let mut weight = vec![0.0f64; cells];
        for ((r, w), &xi) in self.rows.iter().zip(&self.weights).zip(&self.x_idx) {
            let (ktx, kt) = (cell(r.recency), cell(r.t));
            if ktx.is_sign_negative() || kt.is_sign_negative() {
                return None;
            }
            weight[(xi as usize * side + ktx as usize) * side + kt as usize] += w;
        }
        // Which grid values occur, as recency and as T, and their ranks.
        let (mut tx_seen, mut t_seen) = (vec![false; side], vec![false; side]);
        for (c, w) in weight.iter().enumerate() {
            if *w != 0.0 {
                tx_seen[(c / side) % side] = true;
                t_seen[c % side] = true;
            }
        }
        let ranks = |seen: &[bool]| {
            let mut values = Vec::new();
            let rank: Vec<u32> = seen
                .iter()
                .enumerate()
                .map(|(k, &s)| {
                    if s {
                        values.push(k as f64 / g);
                    }
                    values.len().saturating_sub(1) as u32
                })
                .collect();
            (values, rank)
        };
        let ((tx_values, tx_rank), (t_values, t_rank)) = (ranks(&tx_seen), ranks(&t_seen));
        let n = weight.iter().filter(|w| **w != 0.0).count();
        let mut out = RfmData {
            rows: Vec::with_capacity(n),
            weights: Vec::with_capacity(n),
            total_weight: 0.0,
            x_values: self.x_values.clone(),
            x_idx: Vec::with_capacity(n),
            tx_values,
            tx_idx: Vec::with_capacity(n),
            t_values,
            t_idx: Vec::with_capacity(n),
        };
        for (c, w) in weight.into_iter().enumerate() {
            if w == 0.0 {
                continue;
            }
            let (xi, ktx, kt) = (c / (side * side), (c / side) % side, c % side);
            let (j, l) = (tx_rank[ktx], t_rank[kt]);
            out.rows.push(RfmRow::new(
                self.x_values[xi],
                out.tx_values[j as usize],
                out.t_values[l as usize],
            ));
            out.weights.push(w);
            out.x_idx.push(xi as u32);
            out.tx_idx.push(j);
            out.t_idx.push(l);
        }
        out.total_weight = out.weights.iter().sum();
        Some(out)
    }

    /// The same data with time multiplied by `c` (recency and T).
    pub(crate) fn scaled(&self, c: f64) -> RfmData {
        let mut out = self.clone();
        for r in &mut out.rows {
            r.recency *= c;
            r.t *= c;
        }
        for v in &mut out.tx_values {
            *v *= c;
        }
        for v in &mut out.t_values {
            *v *= c;
        }
        out
    }
}

/// One repeat customer's spend summary for the Gamma-Gamma model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// Repeat purchases, x > 0.
    pub frequency: f64,
    /// Mean value of the repeat purchases, > 0.
    pub monetary_value: f64,
}

impl SpendRow {
    /// A row; not validated until it goes into [`SpendData`].
    pub fn new(frequency: f64, monetary_value: f64) -> Self {
        SpendRow {
            frequency,
            monetary_value,
        }
    }

    fn validate(&self, row: usize) -> Result<()> {
        if !self.frequency.is_finite() || self.frequency <= 0.0 {
            return Err(invalid_row(
                row,
                "frequency",
                format!(
                    "must be > 0 for the Gamma-Gamma model (fit it on repeat customers only), got {}",
                    self.frequency
                ),
            ));
        }
        if !self.monetary_value.is_finite() || self.monetary_value <= 0.0 {
            return Err(invalid_row(
                row,
                "monetary_value",
                format!("must be > 0, got {}", self.monetary_value),
            ));
        }
        Ok(())
    }
}

/// Validated, collapsed spend data for the Gamma-Gamma model.
#[derive(Clone, Debug)]
pub struct SpendData {
    rows: Vec<SpendRow>,
    weights: Vec<f64>,
    total_weight: f64,
}

impl SpendData {
    /// Validate rows (frequency > 0, monetary value > 0) and collapse identical ones.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`] for the first invalid row;
    /// [`ModelError::Empty`] for no rows.
    pub fn from_rows(rows: &[SpendRow]) -> Result<Self> {
        Self::from_weighted_rows(rows, &vec![1.0; rows.len()])
    }

    /// As [`SpendData::from_rows`], each row standing for `weights[i]` customers.
    ///
    /// # Errors
    ///
    /// As [`SpendData::from_rows`], a weight that is not finite and > 0, or
    /// lengths that differ.
    pub fn from_weighted_rows(rows: &[SpendRow], weights: &[f64]) -> Result<Self> {
        if rows.len() != weights.len() {
            return Err(ModelError::InvalidParameter {
                name: "weights",
                reason: format!("has {} entries for {} rows", weights.len(), rows.len()),
            });
        }
        for (i, (r, w)) in rows.iter().zip(weights).enumerate() {
            r.validate(i)?;
            check_weight(i, *w)?;
        }
        if rows.is_empty() {
            return Err(ModelError::Empty("no repeat customers with spend"));
        }
        let merged = collapse(
            rows.iter().copied().zip(weights.iter().copied()).collect(),
            |a: &SpendRow, b: &SpendRow| {
                a.frequency
                    .total_cmp(&b.frequency)
                    .then(a.monetary_value.total_cmp(&b.monetary_value))
            },
        );
        let (rows, weights): (Vec<SpendRow>, Vec<f64>) = merged.into_iter().unzip();
        let total_weight = weights.iter().sum();
        Ok(SpendData {
            rows,
            weights,
            total_weight,
        })
    }

    /// The distinct rows.
    pub fn rows(&self) -> &[SpendRow] {
        &self.rows
    }

    /// The weight of each distinct row.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Number of customers.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }
}

/// One customer's history over discrete transaction opportunities (BG/BB).
///
/// * `frequency` (x): opportunities with a transaction, after the first;
/// * `recency` (t_x): the opportunity of the last transaction (0 when x = 0);
/// * `n_periods` (n): opportunities observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DiscreteRow {
    /// Transactions, x.
    pub frequency: u32,
    /// Opportunity of the last transaction, t_x.
    pub recency: u32,
    /// Number of opportunities, n.
    pub n_periods: u32,
}

impl DiscreteRow {
    /// A row; not validated until it goes into [`DiscreteData`].
    pub fn new(frequency: u32, recency: u32, n_periods: u32) -> Self {
        DiscreteRow {
            frequency,
            recency,
            n_periods,
        }
    }

    /// Check the BG/BB rules: `x <= t_x <= n`, and `t_x = 0` exactly when `x = 0`.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`] naming the field.
    pub fn validate(&self, row: usize) -> Result<()> {
        let DiscreteRow {
            frequency: x,
            recency: tx,
            n_periods: n,
        } = *self;
        if tx > n {
            return Err(invalid_row(
                row,
                "recency",
                format!("{tx} is larger than n_periods = {n}"),
            ));
        }
        if x > tx {
            return Err(invalid_row(
                row,
                "frequency",
                format!("{x} is larger than recency = {tx}"),
            ));
        }
        if x == 0 && tx != 0 {
            return Err(invalid_row(
                row,
                "recency",
                format!("must be 0 when frequency is 0, got {tx}"),
            ));
        }
        Ok(())
    }
}

/// Validated, collapsed BG/BB data.
#[derive(Clone, Debug)]
pub struct DiscreteData {
    rows: Vec<DiscreteRow>,
    weights: Vec<f64>,
    total_weight: f64,
}

impl DiscreteData {
    /// Validate rows and collapse identical ones.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`]; [`ModelError::Empty`].
    pub fn from_rows(rows: &[DiscreteRow]) -> Result<Self> {
        Self::from_weighted_rows(rows, &vec![1.0; rows.len()])
    }

    /// Validate rows with weights (e.g. the aggregated donation data of Fader,
    /// Hardie & Shang 2010) and collapse identical ones.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidRow`]; [`ModelError::Empty`]; length mismatch.
    pub fn from_weighted_rows(rows: &[DiscreteRow], weights: &[f64]) -> Result<Self> {
        if rows.len() != weights.len() {
            return Err(ModelError::InvalidParameter {
                name: "weights",
                reason: format!("has {} entries for {} rows", weights.len(), rows.len()),
            });
        }
        for (i, (r, w)) in rows.iter().zip(weights).enumerate() {
            r.validate(i)?;
            check_weight(i, *w)?;
        }
        if rows.is_empty() {
            return Err(ModelError::Empty("no customer rows"));
        }
        let merged = collapse(
            rows.iter().copied().zip(weights.iter().copied()).collect(),
            DiscreteRow::cmp,
        );
        let (rows, weights): (Vec<DiscreteRow>, Vec<f64>) = merged.into_iter().unzip();
        let total_weight = weights.iter().sum();
        Ok(DiscreteData {
            rows,
            weights,
            total_weight,
        })
    }

    /// The distinct rows.
    pub fn rows(&self) -> &[DiscreteRow] {
        &self.rows
    }

    /// The weight of each distinct row.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Number of customers.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }
}

/// Sum `f(range)` over row chunks, in parallel above
/// [`prec::PARALLEL_MIN_ROWS`]. Partial sums are added in chunk order, so the
/// result does not depend on the thread count.
pub(crate) fn sum_chunks<const K: usize>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
) -> [f64; K] {
    if n <= prec::PARALLEL_MIN_ROWS {
        return f(0..n);
    }
    let chunks: Vec<[f64; K]> = (0..n.div_ceil(prec::PARALLEL_CHUNK))
        .into_par_iter()
        .map(|c| f(c * prec::PARALLEL_CHUNK..((c + 1) * prec::PARALLEL_CHUNK).min(n)))
        .collect();
    let mut total = [0.0; K];
    for part in chunks {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_rows_collapse_into_weights() {
        let rows = vec![
            RfmRow::new(0.0, 0.0, 10.0),
            RfmRow::new(2.0, 3.0, 10.0),
            RfmRow::new(0.0, 0.0, 10.0),
            RfmRow::new(2.0, 3.0, 10.0),
            RfmRow::new(2.0, 3.0, 10.0),
        ];
        let d = RfmData::from_rows(&rows).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.weights(), &[2.0, 3.0]);
        assert_eq!(d.total_weight(), 5.0);
        assert_eq!(d.x_values, vec![0.0, 2.0]);
        assert_eq!(d.x_idx, vec![0, 1]);
    }

    #[test]
    fn collapsing_by_ranks_equals_collapsing_by_sorting() {
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let mut rows: Vec<RfmRow> = (0..20_000)
            .map(|_| {
                let t = next(300) as f64 / 4.0;
                let x = next(4) as f64;
                let tx = if x > 0.0 {
                    next(t as u64 + 1) as f64
                } else {
                    0.0
                };
                RfmRow::new(x, tx, t)
            })
            .collect();
        rows.push(RfmRow::new(-0.0, 0.0, 3.0));
        let weights: Vec<f64> = (0..rows.len())
            .map(|i| 1.0 + (i % 3) as f64 / 4.0)
            .collect();
        let a = RfmData::build_by_ranks(&rows, Some(&weights)).unwrap();
        let b = RfmData::build_by_sorting(&rows, Some(&weights));
        assert!(a.len() < rows.len());
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.weights, b.weights);
        assert_eq!(a.total_weight, b.total_weight);
        assert_eq!((a.x_values, a.x_idx), (b.x_values, b.x_idx));
        assert_eq!((a.tx_values, a.tx_idx), (b.tx_values, b.tx_idx));
        assert_eq!((a.t_values, a.t_idx), (b.t_values, b.t_idx));
    }

    #[test]
    fn distinct_columns_rank_as_by_sorting_and_grids_as_rounded_rows() {
        // Continuous time: nearly every value distinct, so recency and T are
        // ranked by sorting; a few exact duplicates and a -0 among them.
        let mut state = 11u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows: Vec<RfmRow> = (0..HASHED_RANKS_MAX + 5_000)
            .map(|_| {
                let t = 20.0 + 58.0 * next();
                let x = (next() * 5.0).floor();
                let tx = if x > 0.0 { t * next() } else { 0.0 };
                RfmRow::new(x, tx, t)
            })
            .collect();
        rows.extend_from_within(..300);
        rows.push(RfmRow::new(0.0, -0.0, 31.5));
        let weights: Vec<f64> = (0..rows.len())
            .map(|i| 1.0 + (i % 3) as f64 / 4.0)
            .collect();
        let a = RfmData::build_by_ranks(&rows, Some(&weights)).unwrap();
        let b = RfmData::build_by_sorting(&rows, Some(&weights));
        assert_eq!(a.len(), rows.len() - 300);
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.weights, b.weights);
        assert_eq!((&a.tx_values, &a.tx_idx), (&b.tx_values, &b.tx_idx));
        assert_eq!((&a.t_values, &a.t_idx), (&b.t_values, &b.t_idx));

        // A rounded -0 would be a row of its own: the grid declines.
        let g = 100.0;
        assert!(a.on_grid(g / a.max_t()).is_none());
        let n = rows.len() - 1;
        let a = RfmData::build_by_ranks(&rows[..n], Some(&weights[..n])).unwrap();
        let scaled = a.scaled(1.0 / a.max_t());
        let grid = scaled.on_grid(g).unwrap();
        let round = |v: f64| (v * g).round() / g;
        let rounded: Vec<RfmRow> = scaled
            .rows()
            .iter()
            .map(|r| RfmRow::new(r.frequency, round(r.recency), round(r.t)))
            .collect();
        let c = RfmData::from_weighted_rows(&rounded, scaled.weights()).unwrap();
        assert!(grid.len() < scaled.len());
        assert_eq!(grid.rows, c.rows);
        assert_eq!(grid.weights, c.weights);
        assert_eq!(grid.total_weight, c.total_weight);
        assert_eq!((grid.x_values, grid.x_idx), (c.x_values, c.x_idx));
        assert_eq!((grid.tx_values, grid.tx_idx), (c.tx_values, c.tx_idx));
        assert_eq!((grid.t_values, grid.t_idx), (c.t_values, c.t_idx));
    }

    #[test]
    fn invalid_rows_are_named() {
        let err = RfmData::from_rows(&[RfmRow::new(1.0, 1.0, 5.0), RfmRow::new(1.5, 1.0, 5.0)])
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::InvalidRow {
                    row: 1,
                    field: "frequency",
                    ..
                }
            ),
            "{err}"
        );
        let err = RfmData::from_rows(&[RfmRow::new(1.0, 6.0, 5.0)]).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::InvalidRow {
                    row: 0,
                    field: "recency",
                    ..
                }
            ),
            "{err}"
        );
        let err = RfmData::from_rows(&[RfmRow::new(0.0, 1.0, 5.0)]).unwrap_err();
        assert!(matches!(
            err,
            ModelError::InvalidRow {
                field: "recency",
                ..
            }
        ));
        let err = RfmData::from_rows(&[RfmRow::new(0.0, 0.0, f64::NAN)]).unwrap_err();
        assert!(matches!(err, ModelError::InvalidRow { field: "T", .. }));
        assert!(matches!(
            RfmData::from_rows(&[]).unwrap_err(),
            ModelError::Empty(_)
        ));
        let err = DiscreteData::from_rows(&[DiscreteRow::new(3, 2, 6)]).unwrap_err();
        assert!(matches!(
            err,
            ModelError::InvalidRow {
                field: "frequency",
                ..
            }
        ));
        let err = SpendData::from_rows(&[SpendRow::new(0.0, 10.0)]).unwrap_err();
        assert!(matches!(
            err,
            ModelError::InvalidRow {
                field: "frequency",
                ..
            }
        ));
    }

    #[test]
    fn parallel_sums_do_not_depend_on_chunking() {
        let n = 3 * prec::PARALLEL_MIN_ROWS + 17;
        let f = |r: std::ops::Range<usize>| {
            let mut s = [0.0, 0.0];
            for i in r {
                s[0] += 1.0 / (1.0 + i as f64);
                s[1] += 1.0;
            }
            s
        };
        let a = sum_chunks(n, f);
        let b = sum_chunks(n, f);
        assert_eq!(a, b);
        assert_eq!(a[1], n as f64);
    }
}
