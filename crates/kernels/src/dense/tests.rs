use super::*;
use rand::{Rng, SeedableRng};

/// The definitions, as scalar loops.
mod plain {
    /// θ + η·g for the sum g of `n` products: a product then a sum, or for one product a·b, (η·a)·b + θ
    /// rounded once.
    pub(super) fn step(theta: f64, eta: f64, g: f64, (a, b): (f64, f64), n: usize) -> f64 {
        if n == 1 { (eta * a).mul_add(b, theta) } else { theta + eta * g }
    }

    pub(super) fn lane_dot(a: &[f64], b: &[f64], stride: usize, lanes: usize) -> f64 {
        let full = a.len() / lanes * lanes;
        let mut acc = vec![0.0; lanes];
        for j in 0..full {
            acc[j % lanes] = a[j].mul_add(b[j * stride], acc[j % lanes]);
        }
        let mut width = lanes;
        while width > 1 {
            width /= 2;
            for l in 0..width {
                acc[l] += acc[l + width];
            }
        }
        (full..a.len()).fold(acc[0], |sum, j| a[j].mul_add(b[j * stride], sum))
    }

    pub(super) fn sequential_dot(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
        a.zip(b).fold(0.0, |acc, (a, b)| a.mul_add(b, acc))
    }
}

fn random(len: usize, rng: &mut impl Rng) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(-2.0..2.0)).collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|v| v.to_bits()).collect()
}

/// Shapes with and without remainders in every tiled dimension (rows, samples, columns, lanes).
const SHAPES: [(usize, usize, usize); 6] = [(1, 1, 1), (4, 8, 8), (9, 13, 20), (1000, 64, 20), (7, 1, 3), (5, 3, 17)];

#[test]
fn row_and_output_dots_follow_their_definition_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for (rows, _, d) in SHAPES {
        let (w, x) = (random(rows * d, &mut rng), random(d, &mut rng));
        let mut out = vec![0.0; rows];
        row_dots(&w, &x, &mut out);
        let expected: Vec<f64> = w.chunks(d).map(|wi| plain::lane_dot(wi, &x, 1, ROW_LANES)).collect();
        assert_eq!(bits(&out), bits(&expected), "{rows}×{d}");
    }
    for len in [1, 15, 16, 37, 1000] {
        let (a, b) = (random(len, &mut rng), random(len, &mut rng));
        assert_eq!(output_dot(&a, &b).to_bits(), plain::lane_dot(&a, &b, 1, SUM_LANES).to_bits(), "{len}");
    }
}

/// The fused online step and next forward pass equal the step of `accumulate_rows` followed by
/// `row_dots`, bit for bit.
#[test]
fn step_then_dots_equals_step_and_dots_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for (rows, _, d) in SHAPES {
        let (coef, x, next) = (random(rows, &mut rng), random(d, &mut rng), random(d, &mut rng));
        let w = random(rows * d, &mut rng);
        let (mut fused_w, mut fused_pre) = (w.clone(), vec![0.0; rows]);
        step_rows_then_dots(&coef, &x, 0.3, &mut fused_w, &next, &mut fused_pre);
        let (mut plain_w, mut plain_pre) = (w.clone(), vec![0.0; rows]);
        accumulate_rows(&coef, &x, d, 1, RowTarget::Step { params: &mut plain_w, eta: 0.3 });
        row_dots(&plain_w, &next, &mut plain_pre);
        assert_eq!(bits(&fused_w), bits(&plain_w), "{rows}×{d}");
        assert_eq!(bits(&fused_pre), bits(&plain_pre), "{rows}×{d}");
    }
}

#[test]
fn column_dots_follow_their_definition_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for (rows, n) in [(1, 2), (15, 3), (16, 8), (1000, 64), (37, 5)] {
        let (a, h) = (random(rows, &mut rng), random(rows * n, &mut rng));
        let (mut lanes, mut out) = (vec![f64::NAN; SUM_LANES * n], vec![0.0; n]);
        column_dots(&a, &h, n, &mut lanes, &mut out);
        for b in 0..n {
            let expected = plain::lane_dot(&a, &h[b..], n, SUM_LANES);
            assert_eq!(out[b].to_bits(), expected.to_bits(), "{rows}×{n}, sample {b}");
        }
    }
}

#[test]
fn batch_row_dots_are_row_dots_of_each_sample_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for (rows, n, d) in SHAPES.into_iter().chain([(13, 21, 10), (100, 32, 10), (6, 9, 4), (5, 8, 2)]) {
        let (w, xt) = (random(rows * d, &mut rng), random(d * n, &mut rng));
        let mut out = vec![0.0; rows * n];
        batch_row_dots(&w, &xt, d, n, &mut out);
        for b in 0..n {
            let x: Vec<f64> = xt[b..].iter().step_by(n).copied().collect();
            let mut expected = vec![0.0; rows];
            row_dots(&w, &x, &mut expected);
            let got: Vec<f64> = out.iter().skip(b).step_by(n).copied().collect();
            assert_eq!(bits(&got), bits(&expected), "{rows}×{n}×{d}, sample {b}");
        }
    }
}

#[test]
fn batch_dots_follow_their_definition_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    for (rows, n, d) in SHAPES {
        let (w, xt) = (random(rows * d, &mut rng), random(d * n, &mut rng));
        let mut out = vec![0.0; rows * n];
        batch_dots(&w, &xt, d, n, &mut out);
        for i in 0..rows {
            for b in 0..n {
                let expected =
                    plain::sequential_dot(w[i * d..][..d].iter().copied(), xt[b..].iter().step_by(n).copied());
                assert_eq!(out[i * n + b].to_bits(), expected.to_bits(), "{rows}×{n}×{d} at ({i}, {b})");
            }
        }
    }
}

#[test]
fn accumulated_rows_and_weighted_sums_follow_their_definition_bitwise() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for (rows, n, d) in SHAPES {
        let (coef, x) = (random(rows * n, &mut rng), random(n * d, &mut rng));
        let mut stored = vec![f64::NAN; rows * d];
        accumulate_rows(&coef, &x, d, n, RowTarget::Store(&mut stored));
        let start = random(rows * d, &mut rng);
        let weight = random(n, &mut rng);
        let mut sums = vec![f64::NAN; rows];
        weighted_sums(&coef, &weight, RowTarget::Store(&mut sums));
        let mut stepped_sums = start[..rows].to_vec();
        weighted_sums(&coef, &weight, RowTarget::Step { params: &mut stepped_sums, eta: 0.3 });
        for i in 0..rows {
            let g = plain::sequential_dot(weight.iter().copied(), coef[i * n..][..n].iter().copied());
            assert_eq!(sums[i].to_bits(), g.to_bits(), "weighted sum {i} of {rows}×{n}");
            let expected = plain::step(start[i], 0.3, g, (weight[0], coef[i * n]), n);
            assert_eq!(stepped_sums[i].to_bits(), expected.to_bits());
        }
        let mut stepped = start.clone();
        accumulate_rows(&coef, &x, d, n, RowTarget::Step { params: &mut stepped, eta: 0.3 });
        for i in 0..rows {
            for j in 0..d {
                let g = plain::sequential_dot(coef[i * n..][..n].iter().copied(), x[j..].iter().step_by(d).copied());
                let k = i * d + j;
                assert_eq!(stored[k].to_bits(), g.to_bits(), "{rows}×{n}×{d} at ({i}, {j})");
                let expected = plain::step(start[k], 0.3, g, (coef[i * n], x[j]), n);
                assert_eq!(stepped[k].to_bits(), expected.to_bits());
            }
        }
    }
}
