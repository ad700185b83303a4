//! The inter-layer dependence of a two-hidden-layer network across replicas (see
//! `meanfield_dynamics::LayerDependence` for what is recorded and why it must be across replicas).
//!
//! Per record time, with a_r and b_r the feature means of the two layers in replica r (R replicas):
//! - `dependence` = HSIC_u(a, b) / √(S_w S_c), the unbiased HSIC estimate (Song et al. 2012, linear kernel
//!   on the feature means) of ‖Cov(φ(w_i), ψ(c_j))‖²_F, the squared cross-covariance of the features of a
//!   pair, normalised by S = the replicas' mean within-network ‖Cov(φ)‖²_F of each layer. It lies in
//!   [0, 1] up to sampling error (Cauchy–Schwarz for the RV coefficient), is 0 for independent layers and
//!   O(1/(N1 N2)) under the mean-field limit (the cross-covariance of a pair is O(1/N)).
//! - `null_level`: its standard deviation when the layers are independent, √(2 HSIC_u(a, a) HSIC_u(b, b))
//!   / R / √(S_w S_c) (the variance of R·HSIC under independence is 2 tr Σa² tr Σb² to leading order).
//! - `standard_error`: by the delta method (the influence function of ‖C‖²_F) plus the null term, so it
//!   equals `null_level` for independent layers and grows with the dependence.

/// Where the dependence columns of a point are: feature-mean columns and the `self` column of each layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DependenceColumns {
    pub blocks: (String, String),
    pub first: (Vec<usize>, usize),
    pub second: (Vec<usize>, usize),
}

impl DependenceColumns {
    /// Finds the columns `<prefix><block>)[k]`… `<prefix><block>)self` of two layers, in that order.
    pub fn find(columns: &[String], prefix: &str) -> Option<DependenceColumns> {
        let mut layers = Vec::new();
        let mut means = Vec::new();
        for (k, c) in columns.iter().enumerate() {
            let Some(rest) = c.strip_prefix(prefix) else { continue };
            let Some((block, tail)) = rest.split_once(')') else { continue };
            if tail == "self" {
                layers.push((block.to_owned(), std::mem::take(&mut means), k));
            } else {
                means.push(k);
            }
        }
        match <[_; 2]>::try_from(layers) {
            Ok([(b1, m1, s1), (b2, m2, s2)]) => {
                Some(DependenceColumns { blocks: (b1, b2), first: (m1, s1), second: (m2, s2) })
            }
            Err(_) => None,
        }
    }
}

/// The unbiased HSIC estimator with linear kernels on the rows of `a` (n × da) and `b` (n × db):
/// an unbiased estimate of ‖Cov(a, b)‖²_F. Needs n ≥ 4 (NaN otherwise).
pub fn hsic_unbiased(a: &[f64], da: usize, b: &[f64], db: usize) -> f64 {
    assert_eq!(a.len() / da, b.len() / db, "a and b must have the same number of rows");
    // The estimator is invariant under shifting all rows by one vector; centring first keeps the Gram
    // entries small, so nothing cancels catastrophically.
    hsic(&Gram::of_rows(&centred(a, da), da), &Gram::of_rows(&centred(b, db), db))
}

/// A linear-kernel Gram matrix with its diagonal set to 0 (K̃ of Song et al.), with its row sums.
struct Gram {
    n: usize,
    entries: Vec<f64>,
    row_sums: Vec<f64>,
}

impl Gram {
    fn of_rows(m: &[f64], d: usize) -> Gram {
        let n = m.len() / d;
        let mut entries = vec![0.0; n * n];
        for (i, ri) in m.chunks_exact(d).enumerate() {
            for (j, rj) in m.chunks_exact(d).enumerate() {
                if i != j {
                    entries[i * n + j] = ri.iter().zip(rj).map(|(x, y)| x * y).sum();
                }
            }
        }
        let row_sums = entries.chunks_exact(n.max(1)).map(|r| r.iter().sum()).collect();
        Gram { n, entries, row_sums }
    }
}

/// The unbiased HSIC of two Gram matrices of the same rows; NaN below 4 rows.
fn hsic(k: &Gram, l: &Gram) -> f64 {
    let n = k.n;
    if n < 4 {
        return f64::NAN;
    }
    let trace: f64 = k.entries.iter().zip(&l.entries).map(|(x, y)| x * y).sum();
    let (sk, sl): (f64, f64) = (k.row_sums.iter().sum(), l.row_sums.iter().sum());
    let cross: f64 = k.row_sums.iter().zip(&l.row_sums).map(|(x, y)| x * y).sum();
    let nf = n as f64;
    (trace + sk * sl / ((nf - 1.0) * (nf - 2.0)) - 2.0 * cross / (nf - 2.0)) / (nf * (nf - 3.0))
}

/// The rows of `m` (· × d) minus their mean.
fn centred(m: &[f64], d: usize) -> Vec<f64> {
    let n = (m.len() / d) as f64;
    let mut mean = vec![0.0; d];
    for row in m.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(s, x)| *s += x / n);
    }
    m.chunks_exact(d).flat_map(|row| row.iter().zip(&mean).map(|(x, m)| x - m)).collect()
}

/// Per replica: the two layers' feature means and normalisers at one record time.
#[derive(Debug)]
pub struct Sample<'a> {
    pub a: &'a [f64],
    pub da: usize,
    pub b: &'a [f64],
    pub db: usize,
    pub self_a: &'a [f64],
    pub self_b: &'a [f64],
}

/// (dependence, standard error, null level) of one record time.
pub fn estimate(s: &Sample<'_>) -> (f64, f64, f64) {
    let n = s.self_a.len();
    let nf = n as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let norm = (mean(s.self_a) * mean(s.self_b)).sqrt();
    let (ca, cb) = (centred(s.a, s.da), centred(s.b, s.db));
    let (k, l) = (Gram::of_rows(&ca, s.da), Gram::of_rows(&cb, s.db));
    let value = hsic(&k, &l);
    let null_sd = (2.0 * hsic(&k, &k).max(0.0) * hsic(&l, &l).max(0.0)).sqrt() / nf;
    // Delta method: the influence function of ‖C‖²_F is 2(ãᵀC b̃ − ‖C‖²), so Var ≈ (4/n) Var(ãᵀĈ b̃)
    // plus the second-order term null_sd²; the noise of Ĉ inflates the first term by 2 null_sd², which
    // is taken back out.
    let mut cross = vec![0.0; s.da * s.db];
    for (ra, rb) in ca.chunks_exact(s.da).zip(cb.chunks_exact(s.db)) {
        for (k, x) in ra.iter().enumerate() {
            for (l, y) in rb.iter().enumerate() {
                cross[k * s.db + l] += x * y / (nf - 1.0);
            }
        }
    }
    let influence: Vec<f64> = ca
        .chunks_exact(s.da)
        .zip(cb.chunks_exact(s.db))
        .map(|(ra, rb)| {
            ra.iter()
                .enumerate()
                .map(|(k, x)| x * rb.iter().zip(&cross[k * s.db..]).map(|(y, c)| y * c).sum::<f64>())
                .sum()
        })
        .collect();
    let m = mean(&influence);
    let var = influence.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (nf - 1.0);
    let se = (4.0 * var / nf - null_sd * null_sd).max(null_sd * null_sd).sqrt();
    (value / norm, se / norm, null_sd / norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// ‖Cov(a, b)‖²_F by the plug-in formula with 1/(n − 1), for comparison.
    fn plug_in(a: &[f64], da: usize, b: &[f64], db: usize) -> f64 {
        let n = a.len() / da;
        let mean = |m: &[f64], d: usize, k: usize| m.iter().skip(k).step_by(d).sum::<f64>() / n as f64;
        let mut total = 0.0;
        for k in 0..da {
            for l in 0..db {
                let (ma, mb) = (mean(a, da, k), mean(b, db, l));
                let cov: f64 =
                    (0..n).map(|r| (a[r * da + k] - ma) * (b[r * db + l] - mb)).sum::<f64>() / (n - 1) as f64;
                total += cov * cov;
            }
        }
        total
    }

    fn sample(n: usize, rho: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        // a = (x1, x2), b = ρ x1 + √(1 − ρ²) z: ‖Cov(a, b)‖²_F = ρ².
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut normal = || -> f64 { rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng) };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (x1, x2, z) = (normal(), normal(), normal());
            a.extend([x1, x2]);
            b.push(rho * x1 + (1.0 - rho * rho).sqrt() * z);
        }
        (a, b)
    }

    #[test]
    fn hsic_is_shift_invariant_and_close_to_the_plug_in_value() {
        let (a, b) = sample(50, 0.6, 1);
        let h = hsic_unbiased(&a, 2, &b, 1);
        let shifted: Vec<f64> = a.iter().map(|x| x + 7.0).collect();
        assert!((hsic_unbiased(&shifted, 2, &b, 1) - h).abs() < 1e-12);
        // Unbiased and plug-in differ by O(1/n) of the signal: here |h − plug-in| ≪ ρ² = 0.36.
        assert!((h - plug_in(&a, 2, &b, 1)).abs() < 0.1, "{h} vs {}", plug_in(&a, 2, &b, 1));
    }

    #[test]
    fn hsic_is_unbiased_for_the_squared_cross_covariance() {
        // Unbiasedness is exact for every n ≥ 4, and a small n shows a wrong term most clearly: at n = 8
        // halving the −2/(n − 2) term shifts the mean by ≈ 2 E|a|²E|b|²/((n − 2)(n − 3)) ≈ 0.07, and the
        // plug-in estimate is off by tr Σa tr Σb / n = 0.25 at ρ = 0. The mean of 4000 repetitions is
        // compared with ρ² within 4 of its own standard errors (≈ 0.01).
        let reps = 4000;
        for rho in [0.0, 0.5] {
            let values: Vec<f64> = (0..reps)
                .map(|s| {
                    let (a, b) = sample(8, rho, 100 + s);
                    hsic_unbiased(&a, 2, &b, 1)
                })
                .collect();
            let mean = values.iter().sum::<f64>() / reps as f64;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
            let tolerance = 4.0 * sd / (reps as f64).sqrt();
            assert!(tolerance < 0.04, "the test is sharp enough to see a wrong term ({tolerance})");
            assert!((mean - rho * rho).abs() < tolerance, "ρ = {rho}: mean {mean} ± {tolerance}");
        }
        let biased: f64 = (0..reps)
            .map(|s| {
                let (a, b) = sample(8, 0.0, 100 + s);
                plug_in(&a, 2, &b, 1)
            })
            .sum::<f64>()
            / reps as f64;
        assert!(biased > 0.1, "the plug-in estimate is biased upwards ({biased})");
    }

    #[test]
    fn null_level_matches_the_spread_under_independence() {
        // Independent layers: the estimate's sd across 200 repetitions must match `null_level` within
        // ~20% (the sd of a sample sd of 200 is 5%; the formula is leading-order in 1/R).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (mut values, mut nulls) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let a: Vec<f64> = (0..2 * 100).map(|_| rng.random::<f64>()).collect();
            let b: Vec<f64> = (0..100).map(|_| rng.random::<f64>()).collect();
            let ones = vec![1.0; 100];
            let (v, se, null) = estimate(&Sample { a: &a, da: 2, b: &b, db: 1, self_a: &ones, self_b: &ones });
            assert!(se >= null);
            values.push(v);
            nulls.push(null);
        }
        let mean = values.iter().sum::<f64>() / 200.0;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 199.0).sqrt();
        let null = nulls.iter().sum::<f64>() / 200.0;
        assert!(mean.abs() < 4.0 * sd / 200f64.sqrt(), "mean {mean} is not 0 within its error");
        assert!((sd / null - 1.0).abs() < 0.2, "sd {sd} vs null level {null}");
    }

    #[test]
    fn standard_error_matches_the_spread_under_dependence() {
        // ρ = 0.5, R = 100: the sd of the estimate over 300 repetitions against the mean reported se,
        // within 20% (the sd of a sample sd of 300 is 4%; the delta method is first order in 1/R).
        let ones = vec![1.0; 100];
        let (mut values, mut ses) = (Vec::new(), Vec::new());
        for s in 0..300 {
            let (a, b) = sample(100, 0.5, 1000 + s);
            let (v, se, null) = estimate(&Sample { a: &a, da: 2, b: &b, db: 1, self_a: &ones, self_b: &ones });
            assert!(se > null, "a dependent sample's error exceeds the null level");
            values.push(v);
            ses.push(se);
        }
        let mean = values.iter().sum::<f64>() / 300.0;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 299.0).sqrt();
        let se = ses.iter().sum::<f64>() / 300.0;
        assert!((sd / se - 1.0).abs() < 0.2, "sd {sd} vs standard error {se}");
    }

    #[test]
    fn columns_are_found_by_their_names() {
        let cols: Vec<String> =
            ["risk", "dep(w)[0]", "dep(w)[1]", "dep(w)self", "dep(c)[0]", "dep(c)self"].map(String::from).into();
        let found = DependenceColumns::find(&cols, "dep(").unwrap();
        assert_eq!(found.blocks, ("w".to_owned(), "c".to_owned()));
        assert_eq!(found.first, (vec![1, 2], 3));
        assert_eq!(found.second, (vec![4], 5));
        assert_eq!(DependenceColumns::find(&cols[..4], "dep("), None);
    }
}
