//! The lane kernels of [`super::LaneNetworks`]: each does, in every lane, the arithmetic of the single
//! network's pass it names (`meanfield_kernels::dense`'s sums, products and order), so every lane gets the bits
//! of its replica alone.

use meanfield_kernels::dense::{ROW_LANES, SUM_LANES, step_product};
use meanfield_kernels::lanes::{Lane, halving_tree, lane, lanes_dot};
use meanfield_kernels::tanh_lanes;
use multiversion::multiversion;

/// `pre_i = w_i · x` in every lane, as `dense::row_dots` (rows of `d` lanes, `x` transposed: d lanes).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn row_dots<const L: usize>(w: &[f64], x: &[f64], d: usize, pre: &mut [f64]) {
    for (row, out) in w.chunks_exact(d * L).zip(pre.chunks_exact_mut(L)) {
        let out: &mut Lane<L> = out.try_into().expect("a lane");
        *out = lanes_dot::<ROW_LANES, L>(row, x, d);
    }
}

/// A step's arithmetic once the residuals are known, in one pass over the particles, in every lane: the
/// coefficient `k_i = σ'_i · (r · 1 · c_i)` (`dense::gradient_coefficients` with one sample), the w step
/// `w_i += (eta · k_i) x` (`dense::accumulate_rows` with one sample, `dense::step_product`), with `ahead`
/// also `pre_i = w_i · next` as [`row_dots`] (`dense::step_rows_then_dots`: each new weight goes from its
/// register into the dot product), and, when `c` is trained, the c step `c_i += (eta · (r · 1)) σ_i`
/// (`dense::weighted_sums`) after `k_i` has read the old c_i, as the single replica updates c after w.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn step_particles<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    ahead: Option<(&[f64], &mut [f64])>,
) {
    let x = step.x;
    let Some((next, pre)) = ahead else {
        return each_particle(step, c, train_c, w, |row, eta_k| {
            for (w, x) in row.chunks_exact_mut(L).zip(x.chunks_exact(L)) {
                for r in 0..L {
                    step_product(&mut w[r], eta_k[r], x[r]);
                }
            }
        });
    };
    let mut pre = pre.chunks_exact_mut(L);
    each_particle(step, c, train_c, w, |row, eta_k| {
        let out: &mut Lane<L> = pre.next().expect("a pre-activation per particle").try_into().expect("a lane");
        *out = step_row_then_dot(row, eta_k, x, next);
    });
}

/// [`step_particles`] with `ahead`, both samples held in registers, when the machine has the 32 vector
/// registers of AVX-512 and d ≤ 16; returns whether it stepped. [`step_particles`] loads both samples'
/// d lanes again for every particle, three loads per weight where the weight itself needs one; here they
/// are loaded once per step. With AVX2's 16 registers the samples spill, so no AVX2 clone is built. Its own
/// function, so that the sixteen variants stay out of [`step_particles`], whose path for larger d they
/// would slow down.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma"))]
pub(super) fn step_particles_in_registers<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    next: &[f64],
    pre: &mut [f64],
) -> bool {
    if !multiversion::target::target_cfg_f!(target_feature = "avx512vl") {
        return false;
    }
    let mut pre = pre.chunks_exact_mut(L);
    // One variant per d, so that d is known at compile time.
    macro_rules! in_registers {
        ($($dim:literal)*) => {
            match step.d {
                $($dim => {
                    let (x, next) = (lanes_of::<$dim, L>(step.x), lanes_of::<$dim, L>(next));
                    each_particle(step, c, train_c, w, |row, eta_k| {
                        let out: &mut Lane<L> =
                            pre.next().expect("a pre-activation per particle").try_into().expect("a lane");
                        *out = step_row_then_dot(&mut row[..$dim * L], eta_k, x.as_flattened(), next.as_flattened());
                        // An identity that keeps LLVM's loop vectoriser off the particle loop: with d
                        // known the body is straight-line code, which LLVM would vectorise across 8
                        // particles by transposing through the stack, slower than the lanes it has.
                        std::hint::black_box(());
                    });
                    true
                })*
                _ => false,
            }
        };
    }
    in_registers!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// The first `D` lanes of `samples`, to be held in registers.
#[inline(always)]
fn lanes_of<const D: usize, const L: usize>(samples: &[f64]) -> [Lane<L>; D] {
    std::array::from_fn(|j| *lane(samples, j))
}

/// [`step_particles`]' loop: `step_row(w_i, eta · k_i)` steps particle i's weights, then the c step.
#[inline(always)]
fn each_particle<const L: usize>(
    step: &ParticleStep<'_, L>,
    c: &mut [f64],
    train_c: bool,
    w: &mut [f64],
    mut step_row: impl FnMut(&mut [f64], &Lane<L>),
) {
    let ParticleStep { act, act_prime, residual, eta, d, .. } = *step;
    // `scale` and the c weight are r/n with n = 1: kept as products so the arithmetic is the single
    // replica's.
    let (scale, inv_n) = (1.0, 1.0);
    let residual = *residual;
    let eta_weight: Lane<L> = std::array::from_fn(|r| eta * (residual[r] * inv_n));
    let particles = w.chunks_exact_mut(d * L).zip(c.chunks_exact_mut(L)).zip(act.chunks_exact(L));
    for (((row, c), h), hp) in particles.zip(act_prime.chunks_exact(L)) {
        let c: &mut Lane<L> = c.try_into().expect("a lane");
        let (h, hp): (&Lane<L>, &Lane<L>) = (h.try_into().expect("a lane"), hp.try_into().expect("a lane"));
        let eta_k: Lane<L> = std::array::from_fn(|r| eta * (hp[r] * (residual[r] * scale * c[r])));
        step_row(row, &eta_k);
        if train_c {
            // Stepped in a copy: stepped in place, the lanes compile to one scalar multiply-add each.
            let mut stepped = *c;
            for r in 0..L {
                step_product(&mut stepped[r], eta_weight[r], h[r]);
            }
            *c = stepped;
        }
    }
}

/// What [`step_particles`] reads: σ, σ', the residuals, the samples (d lanes), η and d.
#[derive(Clone, Copy)]
pub(super) struct ParticleStep<'a, const L: usize> {
    pub(super) act: &'a [f64],
    pub(super) act_prime: &'a [f64],
    pub(super) residual: &'a Lane<L>,
    pub(super) x: &'a [f64],
    pub(super) eta: f64,
    pub(super) d: usize,
}

/// One particle's w step `w += eta_k x` then `w · next`, every entry a lane, summed as [`lanes_dot`] sums.
#[inline(always)]
fn step_row_then_dot<const L: usize>(row: &mut [f64], eta_k: &Lane<L>, x: &[f64], next: &[f64]) -> Lane<L> {
    let (row, x, next) = (row.as_chunks_mut::<L>().0, x.as_chunks::<L>().0, next.as_chunks::<L>().0);
    let mut acc = [[0.0; L]; ROW_LANES];
    let mut rows = row.chunks_exact_mut(ROW_LANES);
    let (mut xs, mut nexts) = (x.chunks_exact(ROW_LANES), next.chunks_exact(ROW_LANES));
    for ((w, x), next) in (&mut rows).zip(&mut xs).zip(&mut nexts) {
        let w: &mut [Lane<L>; ROW_LANES] = w.try_into().expect("a chunk");
        let (x, next): (&[Lane<L>; ROW_LANES], &[Lane<L>; ROW_LANES]) =
            (x.try_into().expect("a chunk"), next.try_into().expect("a chunk"));
        for (l, acc) in acc.iter_mut().enumerate() {
            for r in 0..L {
                step_product(&mut w[l][r], eta_k[r], x[l][r]);
                acc[r] = w[l][r].mul_add(next[l][r], acc[r]);
            }
        }
    }
    let mut sum = halving_tree(acc);
    for ((w, x), next) in rows.into_remainder().iter_mut().zip(xs.remainder()).zip(nexts.remainder()) {
        for r in 0..L {
            step_product(&mut w[r], eta_k[r], x[r]);
            sum[r] = w[r].mul_add(next[r], sum[r]);
        }
    }
    sum
}

/// The output sums Σ_i c_i σ_i of every lane, as `dense::output_dot`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn output_sums<const L: usize>(c: &[f64], act: &[f64], width: usize) -> Lane<L> {
    lanes_dot::<SUM_LANES, L>(c, act, width)
}

/// σ = tanh and σ' = 1 − σ² of every lane's pre-activations, and the output sums Σ_i c_i σ_i of every lane
/// from them, in one pass: the bits of [`meanfield_kernels::tanh::tanh_slice`] (value by value the same [`tanh_lanes`]
/// and derivative) followed by [`output_sums`] (the same [`SUM_LANES`] partial sums in index order, halving
/// tree and tail). One pass rather than three loops (tanh, its derivative, the sums), which would load σ
/// twice more per particle.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn tanh_and_output_sums<const L: usize>(
    pre: &[f64],
    c: &[f64],
    width: usize,
    act: &mut [f64],
    act_prime: &mut [f64],
) -> Lane<L> {
    let full = width / SUM_LANES * SUM_LANES;
    let mut particles = pre[..width * L]
        .chunks_exact(L)
        .zip(c[..width * L].chunks_exact(L))
        .zip(act[..width * L].chunks_exact_mut(L).zip(act_prime[..width * L].chunks_exact_mut(L)));
    let mut acc = [[0.0; L]; SUM_LANES];
    for (i, ((z, c), (h, hp))) in (&mut particles).take(full).enumerate() {
        let (c, h) = (lane::<L>(c, 0), activate_tanh(lane::<L>(z, 0), h, hp));
        let acc = &mut acc[i % SUM_LANES];
        for r in 0..L {
            acc[r] = c[r].mul_add(h[r], acc[r]);
        }
    }
    let mut sum = halving_tree(acc);
    for ((z, c), (h, hp)) in particles {
        let (c, h) = (lane::<L>(c, 0), activate_tanh(lane::<L>(z, 0), h, hp));
        for r in 0..L {
            sum[r] = c[r].mul_add(h[r], sum[r]);
        }
    }
    sum
}

/// One particle's σ and σ' (a lane each) of its pre-activations `z` under tanh, as
/// [`meanfield_kernels::tanh::tanh_slice`]; returns σ.
#[inline(always)]
fn activate_tanh<const L: usize>(z: &Lane<L>, h: &mut [f64], hp: &mut [f64]) -> Lane<L> {
    let (h, hp): (&mut Lane<L>, &mut Lane<L>) = (h.try_into().expect("a lane"), hp.try_into().expect("a lane"));
    *h = tanh_lanes(z);
    for r in 0..L {
        hp[r] = (-h[r]).mul_add(h[r], 1.0);
    }
    *h
}

/// The c step alone (when w is frozen), as in [`step_particles`].
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn step_c<const L: usize>(c: &mut [f64], act: &[f64], residual: &Lane<L>, eta: f64) {
    let inv_n = 1.0;
    let eta_weight: Lane<L> = std::array::from_fn(|r| eta * (residual[r] * inv_n));
    for (slot, h) in c.chunks_exact_mut(L).zip(act.chunks_exact(L)) {
        for r in 0..L {
            step_product(&mut slot[r], eta_weight[r], h[r]);
        }
    }
}
