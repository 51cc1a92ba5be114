//! Clustering short answers into themes.
//!
//! 1. Each answer is tokenized, its language guessed ([`Analyzer::guess`]; the
//!    recorded language breaks ties), stop words and fillers dropped and the rest
//!    stemmed (Snowball Finnish or English). Each language's answers are clustered
//!    on their own (steps 2-6), in the order given (callers sort by id).
//! 2. Features: each stem, plus the written word's first four letters at half weight
//!    (so forms the stemmer leaves apart, "hinta" / "hintoja", "jono" / "jonotus" /
//!    "jonottaa", meet),
//!    kept when they occur in at least `min_df` answers and in at most half of them.
//!    TF-IDF weights (`tf · (ln((1 + n) / (1 + df)) + 1)`), each answer scaled to
//!    unit length: sparse vectors.
//! 3. Spherical k-means (cosine similarity, k-means++ seeding whose draws come from
//!    each answer's text and the seed, not its position: the same answers give the
//!    same themes, and a few added answers leave the other draws as they were). k is chosen from
//!    `k_min..=k_max` on a sample of at most `sample` answers by the simplified
//!    silhouette (`(b − a) / max(a, b)` with `a` the distance to the answer's own
//!    centroid and `b` to the nearest other), each k tried in parallel; then all
//!    answers are clustered from the sample's centroids.
//! 4. Clusters smaller than `min_share` of the answers, and answers whose similarity
//!    to their centroid is below `min_similarity`, belong to no theme.
//!    Coherence: a member must write one of its cluster's top three key words, and a
//!    cluster where fewer than `min_coherence` of the answers do is no theme; these
//!    answers are [`Themes::other`] ("other / muut", not a theme).
//! 5. Key words by c-TF-IDF (BERTopic's weighting): `W(t, c) = tf(t, c) / N(c) ·
//!    ln(1 + A / f(t))`, with `N(c)` the words of cluster `c`, `A` the average words
//!    per cluster and `f(t)` the word's count over all clusters. The theme's key is
//!    its top stems sorted and joined by spaces (a stable name a rerun matches by).
//! 6. The label is the top key word in the form most often written in the cluster
//!    ("jonotus", not the stem "jonotu"), or the two-word phrase of the two top key
//!    words when a quarter of the cluster writes them side by side ("waiting time").
//!    The examples are the answers nearest the centroid, no two alike.

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::words::{Analyzer, Lang, Term};

/// One answer to cluster.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The text.
    pub text: &'a str,
    /// The recorded language, if any (breaks a tie of the guess).
    pub lang: Option<Lang>,
}

/// How [`find_themes`] clusters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeOptions {
    /// Fewest clusters tried.
    pub k_min: usize,
    /// Most clusters tried.
    pub k_max: usize,
    /// A fixed number of clusters instead of choosing one.
    pub k: Option<usize>,
    /// Answers the choice of k is made on, at most.
    pub sample: usize,
    /// The generator's seed.
    pub seed: u64,
    /// k-means iterations at most.
    pub max_iter: usize,
    /// Key words per theme.
    pub words: usize,
    /// Example answers per theme.
    pub examples: usize,
    /// The smallest theme, as a share of the answers with words.
    pub min_share: f64,
    /// The least cosine similarity to the centroid an answer needs to be a member.
    pub min_similarity: f64,
    /// Clusters whose centroids are at least this alike (cosine) are merged.
    pub merge_similarity: f64,
    /// The least share of a cluster's answers that write one of its top three key
    /// words for it to be a theme (else its answers go to [`Themes::other`]).
    pub min_coherence: f64,
}

impl Default for ThemeOptions {
    fn default() -> Self {
        ThemeOptions {
            k_min: 2,
            k_max: 24,
            k: None,
            sample: 4000,
            seed: 13,
            max_iter: 40,
            words: 5,
            examples: 3,
            min_share: 0.01,
            min_similarity: 0.05,
            merge_similarity: 0.08,
            min_coherence: 0.6,
        }
    }
}

/// One theme found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    /// The top stems, sorted, joined by spaces.
    pub key: String,
    /// The key words' stems, most distinctive first.
    pub stems: Vec<String>,
    /// The key words as most often written, in the same order.
    pub words: Vec<String>,
    /// A readable label.
    pub label: String,
    /// The language most of its answers are in.
    pub lang: Lang,
    /// `(answer index, cosine similarity to the centroid)`, most central first.
    pub members: Vec<(usize, f64)>,
    /// Indices of the example answers.
    pub examples: Vec<usize>,
}

/// What [`find_themes`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Themes {
    /// Largest first.
    pub themes: Vec<Theme>,
    /// The answers given.
    pub documents: usize,
    /// Answers with at least one kept feature (the clustered ones).
    pub clustered: usize,
    /// Features kept.
    pub vocabulary: usize,
    /// The number of clusters used and its simplified silhouette on the sample.
    pub k: usize,
    /// The simplified silhouette of the chosen k.
    pub silhouette: f64,
    /// Answers with words that belong to no theme ("other / muut": too far from
    /// every centroid, in a small or incoherent cluster, or writing none of their
    /// cluster's key words), ascending.
    pub other: Vec<usize>,
    /// Each answer's language guess.
    pub langs: Vec<Lang>,
    /// Each answer's stems (in order, repeats kept).
    pub stems: Vec<Vec<String>>,
}

/// splitmix64: a small seeded generator (deterministic across platforms).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A 64-bit key of an answer's text: the draws made for an answer depend on its
/// words, not on its position or on how many answers there are, so adding a few
/// answers leaves the other draws as they were.
fn text_key(text: &str) -> u64 {
    // FNV-1a, then splitmix's finaliser.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.trim().to_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    Rng(h).next()
}

/// A uniform draw in (0, 1] for an answer's key, a seed and a step.
fn draw(key: u64, seed: u64, step: u64) -> f64 {
    let mut r = Rng(key ^ seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ step.rotate_left(32));
    ((r.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// Sparse unit vectors in one flat store.
struct Vectors {
    /// `start[i]..start[i + 1]` indexes answer `i`'s entries.
    start: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
    /// Each answer's [`text_key`].
    key: Vec<u64>,
}

impl Vectors {
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.start[i], self.start[i + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    fn dot(&self, i: usize, dense: &[f32]) -> f32 {
        let (ix, v) = self.row(i);
        ix.iter().zip(v).map(|(&j, &x)| x * dense[j as usize]).sum()
    }
}

/// Centroids: `k` dense unit vectors of `dim`.
struct Centroids {
    k: usize,
    dim: usize,
    c: Vec<f32>,
}

impl Centroids {
    fn get(&self, j: usize) -> &[f32] {
        &self.c[j * self.dim..(j + 1) * self.dim]
    }

    /// (best cluster, its similarity, the second best similarity) of row `i`.
    fn nearest(&self, v: &Vectors, i: usize) -> (usize, f32, f32) {
        let (ix, val) = v.row(i);
        let mut best = (0usize, f32::NEG_INFINITY);
        let mut second = f32::NEG_INFINITY;
        for j in 0..self.k {
            let c = self.get(j);
            let s: f32 = ix.iter().zip(val).map(|(&t, &x)| x * c[t as usize]).sum();
            if s > best.1 {
                second = best.1;
                best = (j, s);
            } else if s > second {
                second = s;
            }
        }
        (best.0, best.1, second)
    }
}

/// Spherical k-means over the rows `rows` of `v`, from `init` centroids or k-means++.
/// Returns the centroids and each row's (cluster, similarity, second similarity).
fn kmeans(
    v: &Vectors,
    rows: &[usize],
    k: usize,
    init: Option<Centroids>,
    seed: u64,
    max_iter: usize,
) -> (Centroids, Vec<(usize, f32, f32)>) {
    let dim = v.idx.iter().map(|&j| j as usize + 1).max().unwrap_or(1);
    let mut cents = match init {
        Some(c) => c,
        None => plus_plus(v, rows, k, dim, seed),
    };
    let mut assign: Vec<(usize, f32, f32)> = vec![(usize::MAX, 0.0, 0.0); rows.len()];
    for _ in 0..max_iter.max(1) {
        let next: Vec<(usize, f32, f32)> = rows.par_iter().map(|&i| cents.nearest(v, i)).collect();
        let changed = next.iter().zip(&assign).filter(|(a, b)| a.0 != b.0).count();
        assign = next;
        // New centroids: the normalised sums of their members.
        let sums = rows
            .par_chunks(4096)
            .zip(assign.par_chunks(4096))
            .fold(
                || vec![0f32; k * dim],
                |mut acc, (rs, asg)| {
                    for (&i, a) in rs.iter().zip(asg) {
                        let (ix, val) = v.row(i);
                        let base = a.0 * dim;
                        for (&t, &x) in ix.iter().zip(val) {
                            acc[base + t as usize] += x;
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![0f32; k * dim],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let mut c = sums;
        let mut empty = Vec::new();
        for j in 0..k {
            let s = &mut c[j * dim..(j + 1) * dim];
            let norm = s.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                s.iter_mut().for_each(|x| *x /= norm);
            } else {
                empty.push(j);
            }
        }
        // An empty cluster restarts at the answers farthest from their centroids.
        if !empty.is_empty() {
            let mut far: Vec<usize> = (0..rows.len()).collect();
            far.sort_by(|&a, &b| assign[a].1.total_cmp(&assign[b].1).then(a.cmp(&b)));
            for (j, &r) in empty.iter().zip(&far) {
                let (ix, val) = v.row(rows[r]);
                for (&t, &x) in ix.iter().zip(val) {
                    c[j * dim + t as usize] = x;
                }
            }
        }
        cents = Centroids { k, dim, c };
        if changed == 0 && empty.is_empty() {
            break;
        }
    }
    let assign = rows.par_iter().map(|&i| cents.nearest(v, i)).collect();
    (cents, assign)
}

/// k-means++ seeding (cosine distance), deterministic from `seed`. Each pick is a
/// weighted draw by exponential keys (the answer with the largest `ln(u) / w`, `u`
/// drawn from the answer's text key and `w` its squared distance to the nearest
/// centroid so far): the same draw as k-means++, but one that a few added answers
/// change only when one of them wins.
fn plus_plus(v: &Vectors, rows: &[usize], k: usize, dim: usize, seed: u64) -> Centroids {
    let mut c = vec![0f32; k * dim];
    let mut best_sim = vec![f32::NEG_INFINITY; rows.len()];
    let pick_by = |w: &dyn Fn(usize) -> f64, step: u64| -> Option<usize> {
        rows.iter()
            .enumerate()
            .filter_map(|(r, &i)| {
                let w = w(r);
                (w > 0.0).then(|| (r, draw(v.key[i], seed, step).ln() / w))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|x| x.0)
    };
    let mut pick = pick_by(&|_| 1.0, 0).unwrap_or(0);
    for j in 0..k {
        let (ix, val) = v.row(rows[pick]);
        let cj = &mut c[j * dim..(j + 1) * dim];
        for (&t, &x) in ix.iter().zip(val) {
            cj[t as usize] = x;
        }
        let cj = &c[j * dim..(j + 1) * dim];
        best_sim
            .par_iter_mut()
            .zip(rows.par_iter())
            .for_each(|(b, &i)| *b = b.max(v.dot(i, cj)));
        // Next: with probability proportional to the squared distance.
        let w = |r: usize| ((1.0 - best_sim[r] as f64).max(0.0)).powi(2);
        pick = match pick_by(&w, j as u64 + 1) {
            Some(p) => p,
            None => pick_by(&|_| 1.0, j as u64 + 1).unwrap_or(0),
        };
    }
    Centroids { k, dim, c }
}

/// The mean simplified silhouette of an assignment.
fn silhouette(assign: &[(usize, f32, f32)]) -> f64 {
    if assign.is_empty() {
        return 0.0;
    }
    let s: f64 = assign
        .iter()
        .map(|&(_, own, other)| {
            let a = (1.0 - own as f64).max(0.0);
            let b = (1.0 - other as f64).max(0.0);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .sum();
    s / assign.len() as f64
}

/// The first four letters of a written word of four letters or more (its prefix
/// feature).
fn prefix(word: &str) -> Option<String> {
    let p: String = word.chars().take(4).collect();
    (p.chars().count() == 4).then(|| format!("~{p}"))
}

/// Finds the themes of `docs` (see the module documentation): each language's
/// answers are clustered on their own.
pub fn find_themes(docs: &[Document<'_>], opts: &ThemeOptions) -> Themes {
    let analyzer = Analyzer::new();
    let analysed: Vec<(Lang, Vec<Term>)> = docs
        .par_iter()
        .map(|d| analyzer.terms(d.text, d.lang))
        .collect();
    let n = docs.len();
    let langs: Vec<Lang> = analysed.iter().map(|a| a.0).collect();
    let stems: Vec<Vec<String>> = analysed
        .iter()
        .map(|a| a.1.iter().map(|t| t.stem.clone()).collect())
        .collect();
    let mut out = Themes {
        themes: Vec::new(),
        documents: n,
        clustered: 0,
        vocabulary: 0,
        k: 0,
        silhouette: 0.0,
        other: Vec::new(),
        langs,
        stems,
    };
    let mut weighted_sil = 0.0;
    for lang in [Lang::Fi, Lang::En] {
        let subset: Vec<usize> = (0..n).filter(|&i| out.langs[i] == lang).collect();
        if subset.is_empty() {
            continue;
        }
        let part = cluster_subset(docs, &analysed, &subset, opts);
        weighted_sil += part.silhouette * part.clustered as f64;
        out.clustered += part.clustered;
        out.vocabulary += part.vocabulary;
        out.k += part.k;
        out.themes.extend(part.themes);
        out.other.extend(part.other);
    }
    out.silhouette = if out.clustered > 0 {
        weighted_sil / out.clustered as f64
    } else {
        0.0
    };
    out.other.sort_unstable();
    out.themes.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.key.cmp(&b.key))
    });
    out
}

/// Clusters the answers `subset` (global indices into `docs`, one language).
fn cluster_subset(
    docs: &[Document<'_>],
    analysed: &[(Lang, Vec<Term>)],
    subset: &[usize],
    opts: &ThemeOptions,
) -> Themes {
    let n = subset.len();

    // Features and their document frequencies.
    let mut feature_id: HashMap<String, u32> = HashMap::default();
    let mut names: Vec<String> = Vec::new();
    let mut df: Vec<u32> = Vec::new();
    let mut doc_feats: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n);
    for &g in subset {
        let terms = &analysed[g].1;
        let mut counts: HashMap<u32, f32> = HashMap::default();
        for t in terms {
            let mut add = |name: String, w: f32| {
                let id = *feature_id.entry(name).or_insert_with_key(|k| {
                    names.push(k.clone());
                    df.push(0);
                    (names.len() - 1) as u32
                });
                *counts.entry(id).or_insert(0.0) += w;
            };
            if let Some(p) = prefix(&t.surface) {
                add(p, 0.5);
            }
            add(t.stem.clone(), 1.0);
        }
        for &id in counts.keys() {
            df[id as usize] += 1;
        }
        let mut f: Vec<(u32, f32)> = counts.into_iter().collect();
        f.sort_unstable_by_key(|x| x.0);
        doc_feats.push(f);
    }
    let with_words = doc_feats.iter().filter(|f| !f.is_empty()).count();
    let min_df = ((with_words as f64 / 5000.0).ceil() as u32).max(2);
    let max_df = ((with_words as f64 * 0.5).floor() as u32).max(min_df);
    // Kept features, renumbered densely.
    let mut keep: Vec<Option<u32>> = vec![None; names.len()];
    let mut kept = 0u32;
    for (i, &d) in df.iter().enumerate() {
        if d >= min_df && d <= max_df {
            keep[i] = Some(kept);
            kept += 1;
        }
    }
    let nf = with_words.max(1) as f32;
    let mut start = vec![0usize];
    let mut idx = Vec::new();
    let mut val = Vec::new();
    let mut rows = Vec::new();
    for (i, f) in doc_feats.iter().enumerate() {
        let mut row: Vec<(u32, f32)> = f
            .iter()
            .filter_map(|&(id, tf)| {
                keep[id as usize].map(|k| {
                    let idf = ((1.0 + nf) / (1.0 + df[id as usize] as f32)).ln() + 1.0;
                    (k, tf * idf)
                })
            })
            .collect();
        let norm = row.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| x.1 /= norm);
            rows.push(i);
        }
        row.sort_unstable_by_key(|x| x.0);
        for (k, x) in row {
            idx.push(k);
            val.push(x);
        }
        start.push(idx.len());
    }
    let key: Vec<u64> = subset.iter().map(|&g| text_key(docs[g].text)).collect();
    let vectors = Vectors {
        start,
        idx,
        val,
        key,
    };
    let langs: Vec<Lang> = analysed.iter().map(|a| a.0).collect();
    if rows.len() < 4 || kept == 0 {
        return Themes {
            themes: Vec::new(),
            documents: n,
            clustered: rows.len(),
            vocabulary: kept as usize,
            k: 0,
            silhouette: 0.0,
            other: rows.iter().map(|&i| subset[i]).collect(),
            langs: Vec::new(),
            stems: Vec::new(),
        };
    }

    // Choose k on a sample.
    let sample: Vec<usize> = if rows.len() <= opts.sample {
        rows.clone()
    } else {
        // The answers whose draws are smallest: a sample a few added answers change
        // by at most those answers.
        let mut r = rows.clone();
        r.sort_by_cached_key(|&i| (Rng(vectors.key[i] ^ opts.seed ^ 0x5EED).next(), i));
        r.truncate(opts.sample);
        r.sort_unstable();
        r
    };
    // Over-cluster on the sample, then all answers from the sample's centroids.
    let k0 = opts
        .k
        .unwrap_or(opts.k_max)
        .clamp(1, (sample.len() / 3).max(1));
    let seeded: Vec<(f64, Centroids)> = (0..2u64)
        .into_par_iter()
        .map(|s| {
            let (c, a) = kmeans(
                &vectors,
                &sample,
                k0,
                None,
                opts.seed.wrapping_add(s),
                opts.max_iter,
            );
            (a.iter().map(|x| x.1 as f64).sum::<f64>(), c)
        })
        .collect();
    let init = seeded
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("two seedings")
        .1;
    let iters = if sample.len() == rows.len() {
        1
    } else {
        opts.max_iter
    };
    let (_, assign) = kmeans(&vectors, &rows, k0, Some(init), opts.seed, iters);

    // Merge clusters whose centroids are alike (average linkage on the member sums),
    // unless the number of clusters is fixed.
    let dim = kept as usize;
    let mut sums: Vec<Vec<f32>> = vec![vec![0f32; dim]; k0];
    for (&i, a) in rows.iter().zip(&assign) {
        let (ix, val) = vectors.row(i);
        for (&t, &x) in ix.iter().zip(val) {
            sums[a.0][t as usize] += x;
        }
    }
    let mut group: Vec<usize> = (0..k0).collect();
    if opts.k.is_none() {
        let unit = |v: &[f32]| -> Vec<f32> {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter()
                .map(|x| if n > 0.0 { x / n } else { 0.0 })
                .collect()
        };
        let mut live: Vec<usize> = (0..k0)
            .filter(|&c| sums[c].iter().any(|x| *x != 0.0))
            .collect();
        loop {
            let units: Vec<Vec<f32>> = live.iter().map(|&c| unit(&sums[c])).collect();
            let mut best = (0usize, 0usize, f32::NEG_INFINITY);
            for a in 0..live.len() {
                for b in a + 1..live.len() {
                    let s: f32 = units[a].iter().zip(&units[b]).map(|(x, y)| x * y).sum();
                    if s > best.2 {
                        best = (a, b, s);
                    }
                }
            }
            if std::env::var_os("KANTA_THEMES_DEBUG").is_some() {
                eprintln!("{} clusters, closest {:.3}", live.len(), best.2);
            }
            if live.len() < 2 || (best.2 as f64) < opts.merge_similarity {
                break;
            }
            let (a, b) = (live[best.0], live[best.1]);
            let moved = std::mem::take(&mut sums[b]);
            sums[a].iter_mut().zip(&moved).for_each(|(x, y)| *x += y);
            for g in group.iter_mut() {
                if *g == b {
                    *g = a;
                }
            }
            live.remove(best.1);
        }
    }
    // Final centroids and each answer's similarity to its own.
    let k = k0;
    let cents: Vec<Vec<f32>> = sums
        .iter()
        .map(|v| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter()
                .map(|x| if n > 0.0 { x / n } else { 0.0 })
                .collect()
        })
        .collect();
    let assign: Vec<(usize, f32, f32)> = rows
        .par_iter()
        .zip(assign.par_iter())
        .map(|(&i, a)| {
            let g = group[a.0];
            let own = vectors.dot(i, &cents[g]);
            let other = (0..k)
                .filter(|&c| c != g && group[c] == c && !cents[c].is_empty())
                .map(|c| vectors.dot(i, &cents[c]))
                .fold(0f32, f32::max);
            (g, own, other)
        })
        .collect();
    let sil = silhouette(&assign);

    // Members.
    let min_size = ((opts.min_share * rows.len() as f64).ceil() as usize).max(2);
    let mut members: Vec<Vec<(usize, f64)>> = vec![Vec::new(); k];
    let mut other: Vec<usize> = Vec::new();
    for (&i, &(c, s, _)) in rows.iter().zip(&assign) {
        if s as f64 >= opts.min_similarity {
            members[c].push((subset[i], s as f64));
        } else {
            other.push(subset[i]);
        }
    }
    for m in members.iter_mut() {
        if m.len() < min_size {
            other.extend(m.drain(..).map(|x| x.0));
        }
    }

    // c-TF-IDF over stems.
    let clusters: Vec<usize> = (0..k).filter(|&c| members[c].len() >= min_size).collect();
    let mut tf: Vec<HashMap<&str, f64>> = vec![HashMap::default(); clusters.len()];
    let mut surface: Vec<HashMap<(&str, &str), u32>> = vec![HashMap::default(); clusters.len()];
    let mut total: HashMap<&str, f64> = HashMap::default();
    let mut words_in: Vec<f64> = vec![0.0; clusters.len()];
    for (ci, &c) in clusters.iter().enumerate() {
        for &(i, _) in &members[c] {
            for t in &analysed[i].1 {
                *tf[ci].entry(t.stem.as_str()).or_insert(0.0) += 1.0;
                *surface[ci]
                    .entry((t.stem.as_str(), t.surface.as_str()))
                    .or_insert(0) += 1;
                *total.entry(t.stem.as_str()).or_insert(0.0) += 1.0;
                words_in[ci] += 1.0;
            }
        }
    }
    let avg = words_in.iter().sum::<f64>() / clusters.len().max(1) as f64;
    let mut themes: Vec<Theme> = Vec::new();
    for (ci, &c) in clusters.iter().enumerate() {
        let mut scored: Vec<(&str, f64)> = tf[ci]
            .iter()
            .map(|(&t, &x)| {
                let w = x / words_in[ci].max(1.0) * (1.0 + avg / total[t]).ln();
                (t, w)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = scored
            .iter()
            .take(opts.words)
            .map(|x| x.0.to_string())
            .collect();
        let form = |stem: &str| -> String {
            surface[ci]
                .iter()
                .filter(|((s, _), _)| *s == stem)
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.1.cmp(a.0.1)))
                .map_or_else(|| stem.to_string(), |((_, w), _)| (*w).to_string())
        };
        let words: Vec<String> = top.iter().map(|s| form(s)).collect();
        let mut m = std::mem::take(&mut members[c]);
        // Coherence: a member must write one of the top key words; a cluster where
        // too few do is no theme (its answers go to "other").
        let key3: Vec<&str> = top.iter().take(3).map(String::as_str).collect();
        let has_key = |i: usize| {
            analysed[i]
                .1
                .iter()
                .any(|t| key3.contains(&t.stem.as_str()))
        };
        let before = m.len();
        let (keep_m, drop_m): (Vec<_>, Vec<_>) = m.into_iter().partition(|x| has_key(x.0));
        other.extend(drop_m.iter().map(|x| x.0));
        m = keep_m;
        let coherence = m.len() as f64 / before.max(1) as f64;
        if coherence < opts.min_coherence || m.len() < min_size {
            other.extend(m.iter().map(|x| x.0));
            continue;
        }
        m.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let label = label(analysed, &m, &top, &words);
        let mut examples = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &(i, _) in &m {
            if examples.len() >= opts.examples {
                break;
            }
            if seen.insert(docs[i].text.trim().to_lowercase()) {
                examples.push(i);
            }
        }
        let fi = m.iter().filter(|x| langs[x.0] == Lang::Fi).count();
        let mut sorted = top.clone();
        sorted.sort();
        themes.push(Theme {
            key: sorted.join(" "),
            stems: top,
            words,
            label,
            lang: if fi * 2 >= m.len() {
                Lang::Fi
            } else {
                Lang::En
            },
            members: m,
            examples,
        });
    }
    Themes {
        themes,
        documents: n,
        clustered: rows.len(),
        vocabulary: kept as usize,
        k,
        silhouette: sil,
        other,
        langs: Vec::new(),
        stems: Vec::new(),
    }
}

/// The label of a cluster (see the module documentation).
fn label(
    analysed: &[(Lang, Vec<Term>)],
    members: &[(usize, f64)],
    top: &[String],
    words: &[String],
) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    if top.len() >= 2 {
        let mut pairs: HashMap<(String, String), usize> = HashMap::default();
        for &(i, _) in members {
            let terms = &analysed[i].1;
            let mut seen = std::collections::HashSet::new();
            for w in terms.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                if a.stem == b.stem {
                    continue;
                }
                let in_top = |s: &str| top[..top.len().min(3)].iter().any(|t| t == s);
                if (a.stem == top[0] || b.stem == top[0]) && in_top(&a.stem) && in_top(&b.stem) {
                    let p = (a.surface.clone(), b.surface.clone());
                    if seen.insert(p.clone()) {
                        *pairs.entry(p).or_insert(0) += 1;
                    }
                }
            }
        }
        if let Some(((a, b), c)) = pairs
            .into_iter()
            .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
            && c * 4 >= members.len()
        {
            return format!("{a} {b}");
        }
    }
    first.clone()
}

/// The purity of themes against known labels (`truth[i]` = answer `i`'s label):
/// over the answers in a theme, the share that carry their theme's most common
/// label. 1 when every theme holds one label only; 0 when no answer is in a theme.
pub fn purity<L: Eq + std::hash::Hash>(themes: &Themes, truth: &[L]) -> f64 {
    let mut right = 0usize;
    let mut all = 0usize;
    for t in &themes.themes {
        let mut counts: HashMap<&L, usize> = HashMap::default();
        for &(i, _) in &t.members {
            *counts.entry(&truth[i]).or_insert(0) += 1;
        }
        right += counts.values().copied().max().unwrap_or(0);
        all += t.members.len();
    }
    if all == 0 {
        0.0
    } else {
        right as f64 / all as f64
    }
}
