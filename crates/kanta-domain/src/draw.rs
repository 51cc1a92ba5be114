//! The seeded control-group draw of an offer (no I/O).
//!
//! [`draw_control`] lives here, not in `kanta-models`, so that the demo (which may
//! not depend on the models) can know an offer's groups in advance; the models
//! re-export it as `kanta_models::uplift::draw_control`.

/// SplitMix64: a small seeded generator, the same on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` by rejection (no modulo bias).
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// FNV-1a of a text (mixes a tier's name into the draw's seed).
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Draws the control group: `members` are `(external id, tier)` pairs in any
/// order; the answer says for each, in the same order, whether it is in the control
/// group (`true`) or the offer group. Within each tier the members are sorted by
/// external id, shuffled by a generator seeded from `seed` and the tier, and the
/// first `round(percent / 100 × n)` of the shuffle are control (half rounds away
/// from zero). `percent` above 100 is taken as 100.
pub fn draw_control(members: &[(&str, &str)], percent: u32, seed: u64) -> Vec<bool> {
    let percent = u64::from(percent.min(100));
    let mut by_tier: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, (_, tier)) in members.iter().enumerate() {
        by_tier.entry(tier).or_default().push(i);
    }
    let mut control = vec![false; members.len()];
    for (tier, mut idx) in by_tier {
        idx.sort_by(|a, b| members[*a].0.cmp(members[*b].0).then(a.cmp(b)));
        let mut rng = SplitMix(seed ^ fnv(tier));
        for i in (1..idx.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        let n = idx.len() as u64;
        // round(percent × n / 100), half away from zero, in integers
        let k = ((percent * n * 2 + 100) / 200) as usize;
        for i in idx.into_iter().take(k) {
            control[i] = true;
        }
    }
    control
}
