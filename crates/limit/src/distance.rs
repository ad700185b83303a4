//! Distances between measures: the particle measure μ_N against another particle measure or against a
//! density on a grid (a limit solver's output). In one dimension Wasserstein distances are exact, through
//! the quantile functions: W_p^p = ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du. In more dimensions, between the particles
//! and a weighted point cloud (a grid density's cells at their centres, or other particles): sliced
//! Wasserstein (the mean of W_p^p over directions) and the energy distance.

/// The order p of a Wasserstein distance; 1 and 2 have exact closed forms on every piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    W1,
    W2,
}

impl Order {
    fn root(self, integral: f64) -> f64 {
        match self {
            Order::W1 => integral,
            Order::W2 => integral.max(0.0).sqrt(),
        }
    }

    /// ∫₀^h |c + s·v|^p dv: the contribution of a piece of length h of the u-axis on which the difference
    /// of the quantile functions is c + s·(u − u₀).
    fn piece(self, c: f64, s: f64, h: f64) -> f64 {
        match self {
            Order::W2 => h * (c * c + c * s * h + s * s * h * h / 3.0),
            Order::W1 => {
                let end = c + s * h;
                if c * end >= 0.0 {
                    0.5 * h * (c.abs() + end.abs())
                } else {
                    // The difference changes sign inside: two triangles.
                    let root = -c / s;
                    0.5 * (root * c.abs() + (h - root) * end.abs())
                }
            }
        }
    }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// W_p between the empirical measures of `a` and `b` (equal weights; the sizes may differ).
pub fn wasserstein_1d(a: &[f64], b: &[f64], order: Order) -> f64 {
    assert!(!a.is_empty() && !b.is_empty(), "empirical measures need at least one point");
    let (a, b) = (sorted(a), sorted(b));
    let (n, m) = (a.len(), b.len());
    // Walk the merged breakpoints k/n and l/m of the two step quantile functions.
    let (mut i, mut j, mut u, mut total) = (0, 0, 0.0, 0.0);
    while i < n && j < m {
        let next = ((i + 1) as f64 / n as f64).min((j + 1) as f64 / m as f64);
        total += order.piece(a[i] - b[j], 0.0, next - u);
        u = next;
        // Compare in integers so that equal breakpoints advance both walks together.
        let (ai, bj) = ((i + 1) * m, (j + 1) * n);
        if ai <= bj {
            i += 1;
        }
        if bj <= ai {
            j += 1;
        }
    }
    order.root(total)
}

/// A probability density that is constant on each cell of a grid: cell k is [edges[k], edges[k + 1]) and
/// holds mass `masses[k]` (the output of a finite-volume solver). The masses are normalised here.
#[derive(Debug, Clone, PartialEq)]
pub struct GridDensity {
    pub edges: Vec<f64>,
    pub masses: Vec<f64>,
}

impl GridDensity {
    /// The cumulative masses at the edges, normalised to end at 1.
    pub(crate) fn cdf(&self) -> Vec<f64> {
        assert_eq!(self.edges.len(), self.masses.len() + 1, "one more edge than cells");
        let total: f64 = self.masses.iter().sum();
        assert!(total > 0.0, "a density needs positive mass");
        let mut cdf = Vec::with_capacity(self.edges.len());
        let mut acc = 0.0;
        cdf.push(0.0);
        for m in &self.masses {
            acc += m / total;
            cdf.push(acc);
        }
        *cdf.last_mut().expect("at least one edge") = 1.0;
        cdf
    }
}

/// W_p between the empirical measure of `samples` and a density on a grid: exact, since on each piece of
/// the merged breakpoints the empirical quantile is constant and the grid's is linear.
pub fn wasserstein_to_grid(samples: &[f64], density: &GridDensity, order: Order) -> f64 {
    assert!(!samples.is_empty(), "empirical measures need at least one point");
    let x = sorted(samples);
    let n = x.len() as f64;
    let cdf = density.cdf();
    let (mut i, mut k, mut u, mut total) = (0, 0, 0.0, 0.0);
    // Skip empty cells: their quantile function jumps over them.
    while k < density.masses.len() && cdf[k + 1] <= u {
        k += 1;
    }
    while i < x.len() && k < density.masses.len() {
        let (cell_lo, cell_hi) = (cdf[k], cdf[k + 1]);
        let slope = (density.edges[k + 1] - density.edges[k]) / (cell_hi - cell_lo);
        let quantile_at_u = density.edges[k] + slope * (u - cell_lo);
        let sample_end = (i + 1) as f64 / n;
        let next = sample_end.min(cell_hi);
        total += order.piece(quantile_at_u - x[i], slope, next - u);
        u = next;
        if sample_end <= next {
            i += 1;
        }
        while k < density.masses.len() && cdf[k + 1] <= u {
            k += 1;
        }
    }
    order.root(total)
}

/// W_p between the empirical measure of `a` (equal weights) and the discrete measure of the points `b` with
/// `weights` (positive, normalised here): exact, by the same walk over the merged quantile breakpoints.
pub fn wasserstein_1d_weighted(a: &[f64], b: &[f64], weights: &[f64], order: Order) -> f64 {
    assert!(!a.is_empty() && !b.is_empty() && b.len() == weights.len(), "measures need points and weights");
    let a = sorted(a);
    let mut b: Vec<(f64, f64)> = b.iter().copied().zip(weights.iter().copied()).filter(|(_, w)| *w > 0.0).collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total: f64 = b.iter().map(|(_, w)| w).sum();
    let n = a.len() as f64;
    let (mut i, mut j, mut u, mut cumulative, mut sum) = (0, 0, 0.0, 0.0, 0.0);
    while i < a.len() && j < b.len() {
        let a_end = (i + 1) as f64 / n;
        let b_end = if j + 1 == b.len() { 1.0 } else { cumulative + b[j].1 / total };
        let next = a_end.min(b_end);
        sum += order.piece(a[i] - b[j].0, 0.0, next - u);
        u = next;
        if a_end <= next {
            i += 1;
        }
        if b_end <= next {
            cumulative = b_end;
            j += 1;
        }
    }
    order.root(sum)
}

/// `count` unit vectors of the plane at the angles π(k + ½)/count, k = 0…count − 1 (row-major pairs): the
/// directions of a sliced distance in two dimensions, spread evenly over the half circle (a direction and
/// its opposite give the same projection distance).
pub fn plane_directions(count: usize) -> Vec<f64> {
    (0..count)
        .flat_map(|k| {
            let angle = std::f64::consts::PI * (k as f64 + 0.5) / count as f64;
            [angle.cos(), angle.sin()]
        })
        .collect()
}

/// Sliced Wasserstein: (mean over the unit vectors θ of `directions` (· × dim, row-major) of
/// W_p^p(θ·a, θ·b))^(1/p), between the particles `a` (· × dim, equal weights) and the points `b` (· × dim)
/// with `weights`.
pub fn sliced_wasserstein(a: &[f64], b: &[f64], weights: &[f64], dim: usize, directions: &[f64], order: Order) -> f64 {
    assert!(dim > 0 && !directions.is_empty() && directions.len().is_multiple_of(dim));
    let project = |points: &[f64], theta: &[f64]| -> Vec<f64> {
        points.chunks_exact(dim).map(|p| p.iter().zip(theta).map(|(x, t)| x * t).sum()).collect()
    };
    let count = directions.len() / dim;
    let total: f64 = directions
        .chunks_exact(dim)
        .map(|theta| {
            let w = wasserstein_1d_weighted(&project(a, theta), &project(b, theta), weights, order);
            match order {
                Order::W1 => w,
                Order::W2 => w * w,
            }
        })
        .sum();
    order.root(total / count as f64)
}

/// Σ_i Σ_k p_i q_k |x_i − y_k| for the points `x` with weights `p` and `y` with weights `q` (· × dim).
fn mean_distance(x: &[f64], p: &[f64], y: &[f64], q: &[f64], dim: usize) -> f64 {
    let mut sum = 0.0;
    for (x, p) in x.chunks_exact(dim).zip(p) {
        let mut row = 0.0;
        for (y, q) in y.chunks_exact(dim).zip(q) {
            row += q * x.iter().zip(y).map(|(u, v)| (u - v) * (u - v)).sum::<f64>().sqrt();
        }
        sum += p * row;
    }
    sum
}

/// E|Y − Y'| of the points `b` with `weights` (normalised), the term of [`energy_distance`] that depends on
/// `b` alone: computed once for a measure that is compared many times.
pub fn self_distance(b: &[f64], weights: &[f64], dim: usize) -> f64 {
    let total: f64 = weights.iter().sum();
    let q: Vec<f64> = weights.iter().map(|w| w / total).collect();
    mean_distance(b, &q, b, &q, dim)
}

/// The energy distance 2E|X − Y| − E|X − X'| − E|Y − Y'| between the particles `a` (· × dim, equal
/// weights) and the points `b` with `weights`, as a V-statistic (so it is ≥ 0, and 0 iff the measures are
/// equal; its square root is a metric on measures). `b_self` is [`self_distance`] of `b`.
pub fn energy_distance(a: &[f64], b: &[f64], weights: &[f64], b_self: f64, dim: usize) -> f64 {
    let n = a.len() / dim;
    let p = vec![1.0 / n as f64; n];
    let total: f64 = weights.iter().sum();
    let q: Vec<f64> = weights.iter().map(|w| w / total).collect();
    2.0 * mean_distance(a, &p, b, &q, dim) - mean_distance(a, &p, a, &p, dim) - b_self
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
    }

    #[test]
    fn one_dimensional_wasserstein_by_hand() {
        // Same size: sorted pairs (0, 1), (1, 3), (5, 4).
        let (a, b) = ([5.0, 0.0, 1.0], [3.0, 4.0, 1.0]);
        close(wasserstein_1d(&a, &b, Order::W1), (1.0 + 2.0 + 1.0) / 3.0, 1e-15);
        close(wasserstein_1d(&a, &b, Order::W2), ((1.0 + 4.0 + 1.0) / 3.0f64).sqrt(), 1e-15);
        // Sizes 2 and 3: quantiles a = 0 on (0, ½], 6 on (½, 1]; b = 0, 3, 6 on thirds.
        // |a − b| = 0 on (0, ⅓], 3 on (⅓, ½], 3 on (½, ⅔], 0 after: W1 = 3·⅓ = 1.
        close(wasserstein_1d(&[0.0, 6.0], &[0.0, 3.0, 6.0], Order::W1), 1.0, 1e-15);
        close(wasserstein_1d(&[0.0, 6.0], &[0.0, 3.0, 6.0], Order::W2), 3.0_f64.sqrt(), 1e-15);
        // A shift moves every quantile by the same amount.
        let c: Vec<f64> = a.iter().map(|v| v + 0.75).collect();
        close(wasserstein_1d(&a, &c, Order::W2), 0.75, 1e-15);
        assert_eq!(wasserstein_1d(&a, &a, Order::W1), 0.0);
    }

    /// W1 by the other formula, ∫|F_a(x) − F_b(x)| dx over the merged support: an independent check of
    /// the quantile walk for any sizes.
    fn w1_by_cdfs(a: &[f64], b: &[f64]) -> f64 {
        let mut xs: Vec<f64> = a.iter().chain(b).copied().collect();
        xs.sort_by(f64::total_cmp);
        let cdf = |s: &[f64], x: f64| s.iter().filter(|v| **v <= x).count() as f64 / s.len() as f64;
        xs.windows(2).map(|w| (cdf(a, w[0]) - cdf(b, w[0])).abs() * (w[1] - w[0])).sum()
    }

    proptest::proptest! {
        #[test]
        fn w1_agrees_with_the_cdf_formula_and_is_symmetric(
            a in proptest::collection::vec(-10.0..10.0f64, 1..12),
            b in proptest::collection::vec(-10.0..10.0f64, 1..12),
        ) {
            let w = wasserstein_1d(&a, &b, Order::W1);
            proptest::prop_assert!((w - w1_by_cdfs(&a, &b)).abs() < 1e-9, "{} vs {}", w, w1_by_cdfs(&a, &b));
            proptest::prop_assert!((w - wasserstein_1d(&b, &a, Order::W1)).abs() < 1e-12);
            proptest::prop_assert!(wasserstein_1d(&a, &b, Order::W2) >= w - 1e-12, "W2 ≥ W1 (Jensen)");
        }
    }

    #[test]
    fn distance_to_a_grid_density_matches_closed_forms() {
        // Uniform on [0, 1] (4 cells) against n points at the midpoints (i − ½)/n: on each piece of length
        // 1/n the difference is linear from −1/(2n) to 1/(2n), so W1 = 1/(4n) and W2² = 1/(12n²).
        let uniform = GridDensity { edges: vec![0.0, 0.25, 0.5, 0.75, 1.0], masses: vec![1.0; 4] };
        for n in [1, 3, 10] {
            let mid: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
            close(wasserstein_to_grid(&mid, &uniform, Order::W1), 0.25 / n as f64, 1e-14);
            close(wasserstein_to_grid(&mid, &uniform, Order::W2), (1.0 / 12.0f64).sqrt() / n as f64, 1e-14);
        }
        // One point at x against uniform [0, 1]: W1 = ∫|u − x| du = (x² + (1 − x)²)/2.
        close(wasserstein_to_grid(&[0.3], &uniform, Order::W1), (0.09 + 0.49) / 2.0, 1e-14);
        // Empty cells are jumped over: mass ½ on [0, 1) and ½ on [3, 4), against points 0.5 and 3.5; each
        // half is a unit interval against its midpoint, W1 = ½·¼ + ½·¼. Interpolating across the empty
        // cells instead would move quantiles by up to 2 and fail.
        let split = GridDensity { edges: vec![0.0, 1.0, 2.0, 3.0, 4.0], masses: vec![1.0, 0.0, 0.0, 1.0] };
        close(wasserstein_to_grid(&[0.5, 3.5], &split, Order::W1), 0.25, 1e-14);
        // A grid density is the limit of its own fine samples: the quantile midpoints of 1000 points.
        let quantiles: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        close(wasserstein_to_grid(&quantiles, &uniform, Order::W1), 0.25 / 1000.0, 1e-14);
    }

    #[test]
    fn sliced_wasserstein_of_a_translation() {
        // b = a + v: every projection is shifted by θ·v, so SW2² = E(θ·v)² = |v|²/d for uniform θ. With
        // L = 4000 directions the estimate of E(θ·v)² has relative sd √(2/(d + 2)) / √L ≈ 1.4% for d = 3;
        // 6% is 4 sd. Dropping the normalisation of θ would give |v|² (3× larger) and fail.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let a: Vec<f64> = (0..3 * 50).map(|_| StandardNormal.sample(&mut rng)).collect();
        let v = [1.0, -2.0, 0.5];
        let b: Vec<f64> = a.chunks(3).flat_map(|p| [p[0] + v[0], p[1] + v[1], p[2] + v[2]]).collect();
        let mut directions: Vec<f64> = (0..3 * 4000).map(|_| StandardNormal.sample(&mut rng)).collect();
        for theta in directions.chunks_exact_mut(3) {
            let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
            theta.iter_mut().for_each(|t| *t /= norm);
        }
        let sw = sliced_wasserstein(&a, &b, &[1.0; 50], 3, &directions, Order::W2);
        let expected = (v.iter().map(|x| x * x).sum::<f64>() / 3.0).sqrt();
        assert!((sw * sw / (expected * expected) - 1.0).abs() < 0.06, "{sw} vs {expected}");
    }

    /// The energy distance between equal-weight clouds, as the V-statistic is written out.
    fn energy(a: &[f64], b: &[f64], dim: usize) -> f64 {
        let weights = vec![1.0; b.len() / dim];
        energy_distance(a, b, &weights, self_distance(b, &weights, dim), dim)
    }

    #[test]
    fn energy_distance_by_hand_and_its_scaling() {
        // Point masses at a and b: 2|a − b|.
        close(energy(&[0.0, 0.0], &[3.0, 4.0], 2), 10.0, 1e-14);
        // {0, 2} against {1}: 2·1 − (0 + 2 + 2 + 0)/4 − 0 = 1.
        close(energy(&[0.0, 2.0], &[1.0], 1), 1.0, 1e-14);
        assert_eq!(energy(&[1.0, 5.0], &[1.0, 5.0], 1), 0.0);
        // Weights: {0 (weight 3), 4 (weight 1)} is the cloud {0, 0, 0, 4}, whatever the scale of the weights.
        let weighted =
            energy_distance(&[1.0, 2.0], &[0.0, 4.0], &[6.0, 2.0], self_distance(&[0.0, 4.0], &[6.0, 2.0], 1), 1);
        close(weighted, energy(&[1.0, 2.0], &[0.0, 0.0, 0.0, 4.0], 1), 1e-14);
    }

    /// Weighted points are the cloud that repeats each point by its weight, for W1 and W2 alike, and equal
    /// weights give the unweighted walk; a sliced distance in the plane over evenly spread directions matches
    /// the translation's closed form E(θ·v)² = |v|²/2 to the directions' quadrature (exact for 4 or more
    /// directions, since (θ·v)² is a trigonometric polynomial of degree 2).
    #[test]
    fn weighted_points_are_repeated_points() {
        let (a, b) = ([0.3, -1.0, 2.5, 0.9, 1.1], [0.0, 1.0, 2.0]);
        for order in [Order::W1, Order::W2] {
            let repeated = wasserstein_1d(&a, &[0.0, 0.0, 1.0, 2.0, 2.0, 2.0], order);
            close(wasserstein_1d_weighted(&a, &b, &[2.0, 1.0, 3.0], order), repeated, 1e-14);
            close(wasserstein_1d_weighted(&a, &b, &[1.0; 3], order), wasserstein_1d(&a, &b, order), 1e-14);
        }
        let v = [1.5, -0.5];
        let cloud: Vec<f64> = (0..40).flat_map(|k| [(k as f64 * 0.37).sin(), (k as f64 * 0.71).cos()]).collect();
        let moved: Vec<f64> = cloud.chunks(2).flat_map(|p| [p[0] + v[0], p[1] + v[1]]).collect();
        let sw = sliced_wasserstein(&cloud, &moved, &[1.0; 40], 2, &plane_directions(8), Order::W2);
        close(sw * sw, (v[0] * v[0] + v[1] * v[1]) / 2.0, 1e-12);
    }

    #[test]
    fn empirical_w1_to_the_law_shrinks_like_one_over_root_n() {
        // For i.i.d. samples of a law with a density, E W1(μ_N, μ) ~ C/√N in one dimension. Uniform on
        // [0, 1]: averaged over 200 draws, W1 at N = 100 and N = 1600 must differ by a factor near 4
        // (√16); a 1/N rate would give 16. The average of 200 has relative sd ≈ 4%, so [3.3, 4.8] is wide
        // enough not to fail by chance and narrow enough to exclude 16 or 2.
        let uniform = GridDensity { edges: vec![0.0, 1.0], masses: vec![1.0] };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let mut mean_w1 = |n: usize| {
            let total: f64 = (0..200)
                .map(|_| {
                    let x: Vec<f64> = (0..n).map(|_| rand::Rng::random::<f64>(&mut rng)).collect();
                    wasserstein_to_grid(&x, &uniform, Order::W1)
                })
                .sum();
            total / 200.0
        };
        let ratio = mean_w1(100) / mean_w1(1600);
        assert!((3.3..4.8).contains(&ratio), "ratio {ratio}");
    }
}
