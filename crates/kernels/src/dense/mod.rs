//! The hot loops of the one-hidden-layer network, written so that LLVM turns them into vector code:
//! explicit lanes (fixed-size arrays the compiler keeps in registers), register tiles, no bounds checks
//! in the inner loops (fixed-size chunks), and `mul_add`. Each public kernel is compiled three times by
//! `multiversion`, for AVX-512 (F and VL, on top of AVX2 + FMA), for AVX2 + FMA and for the baseline, and
//! the best the machine has is chosen at run time. The AVX-512 clone is the same source, and worth a clone
//! of its own: LLVM gets twice as many vector registers and may use 8-lane registers.
//!
//! Every kernel defines its arithmetic exactly (which products are fused, in which order they are
//! summed), independently of tiles and vector width: the baseline clone computes the same bits as the
//! vector ones (`mul_add` is a correctly rounded fused multiply-add everywhere), so results do not depend on
//! the machine. The `plain` functions in the tests spell each definition out as a scalar loop, and the
//! tests check the kernels against them bit for bit.

use multiversion::multiversion;
use rayon::prelude::*;

/// Multiply-adds per step from which a step's passes over the particles are split across the rayon pool.
/// Below it (online networks of a few thousand units, ensembles of small ones) a fork-join costs more than
/// it saves, and ensembles already keep every thread busy with replicas.
const PARALLEL_WORK: usize = 1 << 16;
/// The fewest particles per parallel task.
const MIN_PARTICLES_PER_TASK: usize = 256;
/// Tasks per thread: two, so that a thread slowed down (by the machine, on a shared host) hands half of
/// its work to the other, and no more, since each task costs a fork. For the same reason tasks are sized by
/// the thread count rather than fixed at [`MIN_PARTICLES_PER_TASK`] particles.
const TASKS_PER_THREAD: usize = 2;

/// How a pass over `width` particles with `work` multiply-adds is split: `None` on the calling thread,
/// `Some(p)` in tasks of p particles, a multiple of the tile height so that tiles are the same as on one
/// thread. The split depends on the thread count but never changes a result: every particle's arithmetic
/// is its own, and no pass sums across the particles of a task.
pub fn particle_tasks(width: usize, work: usize) -> Option<usize> {
    if work < PARALLEL_WORK || width <= MIN_PARTICLES_PER_TASK {
        return None;
    }
    let per_thread = width.div_ceil(TASKS_PER_THREAD * rayon::current_num_threads());
    Some(per_thread.next_multiple_of(TILE_ROWS).max(MIN_PARTICLES_PER_TASK))
}

/// `f` on matching runs of particles of `a` (`a_per` entries per particle) and `b` (`b_per`), in parallel
/// tasks of `tasks` particles, or on the whole slices at once.
pub fn for_particles<A: Send, B: Sync>(
    tasks: Option<usize>,
    (a, a_per): (&mut [A], usize),
    (b, b_per): (&[B], usize),
    f: impl Fn(&mut [A], &[B]) + Sync,
) {
    match tasks {
        None => f(a, b),
        Some(p) => a.par_chunks_mut(p * a_per).zip(b.par_chunks(p * b_per)).for_each(|(a, b)| f(a, b)),
    }
}

/// A value on a 64-byte boundary. [`step_rows_then_dots`] passes its accumulators through
/// `std::hint::black_box`, which stores them on the stack with two 512-bit stores and reads them back in
/// 128-bit pieces. The stack only keeps 16-byte alignment, so without this the slot's place depends on
/// unrelated code, and a slot that straddles cache lines can make those reloads the costliest part of the
/// function. On a 64-byte boundary it never straddles one.
#[repr(C, align(64))]
struct CacheLine<T>(T);

/// Lanes of [`row_dots`]' partial sums: one AVX2 register.
pub const ROW_LANES: usize = 4;
/// Lanes of [`output_dot`]'s and [`column_dots`]' partial sums: four registers, enough independent chains to
/// hide the latency of the fused multiply-add over a long sum.
pub const SUM_LANES: usize = 16;
/// Particle rows per register tile.
const TILE_ROWS: usize = 4;
/// Columns per register tile: two AVX2 registers.
const TILE_COLS: usize = 8;

/// Σ_j a_j b_j in `L` lanes: lane l sums the products j ≡ l (mod L) of the full chunks of L in index
/// order, the lanes are added as a halving tree (lane l + L/2 into lane l, …), and the products of the
/// last partial chunk are added in index order.
#[inline(always)]
fn lane_dot<const L: usize>(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    let full = n / L * L;
    let mut acc = [0.0; L];
    for (ca, cb) in a[..full].chunks_exact(L).zip(b[..full].chunks_exact(L)) {
        for l in 0..L {
            acc[l] = ca[l].mul_add(cb[l], acc[l]);
        }
    }
    let mut width = L;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    let mut sum = acc[0];
    for j in full..n {
        sum = a[j].mul_add(b[j], sum);
    }
    sum
}

/// `out[i] = w_i · x` for the rows w_i of `w` (row-major, `x.len()` columns), each a 4-lane dot product
/// ([`lane_dot`]): the online forward pass, where a single sample leaves only the row to vectorise. Four
/// rows at a time, so that their four accumulators are reduced together.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn row_dots(w: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    let mut rows = w.chunks_exact(TILE_ROWS * d);
    let mut outs = out.chunks_exact_mut(TILE_ROWS);
    for (tile, out) in (&mut rows).zip(&mut outs) {
        // Through a fixed-size array: a copy of run-time length would be a call to memcpy.
        let out: &mut [f64; TILE_ROWS] = out.try_into().expect("tile height");
        *out = dot_tile(tile, x);
    }
    for (wi, o) in rows.remainder().chunks_exact(d).zip(outs.into_remainder()) {
        *o = lane_dot::<ROW_LANES>(wi, x);
    }
}

/// [`lane_dot`] of each of 4 consecutive rows with `x`, their accumulators side by side.
#[inline(always)]
fn dot_tile(tile: &[f64], x: &[f64]) -> [f64; TILE_ROWS] {
    let d = x.len();
    let full = d / ROW_LANES * ROW_LANES;
    let mut acc = [[0.0; ROW_LANES]; TILE_ROWS];
    for j0 in (0..full).step_by(ROW_LANES) {
        let xj: &[f64; ROW_LANES] = x[j0..][..ROW_LANES].try_into().expect("lanes");
        for (p, acc) in acc.iter_mut().enumerate() {
            let wp: &[f64; ROW_LANES] = tile[p * d + j0..][..ROW_LANES].try_into().expect("lanes");
            for l in 0..ROW_LANES {
                acc[l] = wp[l].mul_add(xj[l], acc[l]);
            }
        }
    }
    let mut out = [0.0; TILE_ROWS];
    for (p, (acc, o)) in acc.iter().zip(out.iter_mut()).enumerate() {
        let mut sum = (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for j in full..d {
            sum = tile[p * d + j].mul_add(x[j], sum);
        }
        *o = sum;
    }
    out
}

/// The online weight step followed by the next step's forward pass, in one pass over the weights:
/// `w_i += (eta · coef_i) x` exactly as [`accumulate_rows`] steps with one sample ([`step_product`]), then
/// `pre_i = w_i · next` exactly as [`row_dots`], each new weight going from the register that computed it
/// into the dot product (reading it back from memory would stall on the store just made).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn step_rows_then_dots(coef: &[f64], x: &[f64], eta: f64, w: &mut [f64], next: &[f64], pre: &mut [f64]) {
    let d = x.len();
    let full = d / ROW_LANES * ROW_LANES;
    let mut rows = w.chunks_exact_mut(TILE_ROWS * d);
    let mut pres = pre.chunks_exact_mut(TILE_ROWS);
    let mut coefs = coef.chunks_exact(TILE_ROWS);
    for ((tile, pre), k) in (&mut rows).zip(&mut pres).zip(&mut coefs) {
        let eta_k: [f64; TILE_ROWS] = std::array::from_fn(|p| eta * k[p]);
        let mut acc = [[0.0; ROW_LANES]; TILE_ROWS];
        for j0 in (0..full).step_by(ROW_LANES) {
            let xj: &[f64; ROW_LANES] = x[j0..][..ROW_LANES].try_into().expect("lanes");
            let nj: &[f64; ROW_LANES] = next[j0..][..ROW_LANES].try_into().expect("lanes");
            for (p, acc) in acc.iter_mut().enumerate() {
                let wp: &mut [f64; ROW_LANES] = (&mut tile[p * d + j0..][..ROW_LANES]).try_into().expect("lanes");
                for l in 0..ROW_LANES {
                    step_product(&mut wp[l], eta_k[p], xj[l]);
                    acc[l] = wp[l].mul_add(nj[l], acc[l]);
                }
            }
        }
        // An identity that hides the four rows' reduction from the vectoriser: seeing it, LLVM lays the
        // accumulators across rows and transposes every chunk of new weights into them (a dozen shuffles
        // per 16 weights); behind it each row's lanes stay in one register. (A tile of four rows rather than
        // one row at a time, so that the four share each load of `x` and `next`.)
        let CacheLine(acc) = std::hint::black_box(CacheLine(acc));
        for (p, (acc, o)) in acc.iter().zip(pre.iter_mut()).enumerate() {
            let mut sum = (acc[0] + acc[2]) + (acc[1] + acc[3]);
            for j in full..d {
                let slot = &mut tile[p * d + j];
                step_product(slot, eta_k[p], x[j]);
                sum = slot.mul_add(next[j], sum);
            }
            *o = sum;
        }
    }
    let rows = rows.into_remainder().chunks_exact_mut(d);
    for ((row, p), k) in rows.zip(pres.into_remainder()).zip(coefs.remainder()) {
        let eta_k = eta * k;
        for (slot, x) in row.iter_mut().zip(x) {
            step_product(slot, eta_k, *x);
        }
        *p = lane_dot::<ROW_LANES>(row, next);
    }
}

/// Σ_i a_i b_i, a 16-lane dot product ([`lane_dot`]): the output of one sample.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn output_dot(a: &[f64], b: &[f64]) -> f64 {
    lane_dot::<SUM_LANES>(a, b)
}

/// `out[b] = Σ_i a_i h[i·n + b]` for every sample b of particle-major `h` (N×n), each exactly
/// [`output_dot`] of `a` with column b, but reading `h` row by row (a column would touch a new cache line
/// per particle): the 16 lanes of every sample live in `lanes` (16·n scratch) until the halving tree.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn column_dots(a: &[f64], h: &[f64], n: usize, lanes: &mut [f64], out: &mut [f64]) {
    let full = a.len() / SUM_LANES * SUM_LANES;
    let lanes = &mut lanes[..SUM_LANES * n];
    lanes.fill(0.0);
    for (i, (a, row)) in a[..full].iter().zip(h.chunks_exact(n)).enumerate() {
        let lane = &mut lanes[(i % SUM_LANES) * n..][..n];
        for (acc, h) in lane.iter_mut().zip(row) {
            *acc = a.mul_add(*h, *acc);
        }
    }
    let mut width = SUM_LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = lanes.split_at_mut(width * n);
        for (acc, other) in low.iter_mut().zip(&high[..width * n]) {
            *acc += other;
        }
    }
    out[..n].copy_from_slice(&lanes[..n]);
    for (i, a) in a.iter().enumerate().skip(full) {
        for (sum, h) in out[..n].iter_mut().zip(&h[i * n..(i + 1) * n]) {
            *sum = a.mul_add(*h, *sum);
        }
    }
}

/// The batched forward pass: `out[i·n + b] = Σ_j w_ij xt[j·n + b]` for the N rows of `w` (row-major,
/// d columns) and the n samples of `xt` (the batch transposed: d rows of n), each summed in index order
/// j = 0, 1, … from 0 with fused multiply-adds. Tiles of 4 particles × 8 samples vectorise across samples.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn batch_dots(w: &[f64], xt: &[f64], d: usize, n: usize, out: &mut [f64]) {
    let rows = out.len() / n;
    let full_rows = rows / TILE_ROWS * TILE_ROWS;
    let full_cols = n / TILE_COLS * TILE_COLS;
    for i0 in (0..full_rows).step_by(TILE_ROWS) {
        let w_tile = &w[i0 * d..(i0 + TILE_ROWS) * d];
        for b0 in (0..full_cols).step_by(TILE_COLS) {
            let mut acc = [[0.0; TILE_COLS]; TILE_ROWS];
            for j in 0..d {
                let x: &[f64; TILE_COLS] = xt[j * n + b0..][..TILE_COLS].try_into().expect("tile width");
                for (p, acc) in acc.iter_mut().enumerate() {
                    let wpj = w_tile[p * d + j];
                    for l in 0..TILE_COLS {
                        acc[l] = wpj.mul_add(x[l], acc[l]);
                    }
                }
            }
            for (p, acc) in acc.iter().enumerate() {
                let out: &mut [f64; TILE_COLS] = (&mut out[(i0 + p) * n + b0..][..TILE_COLS]).try_into().expect("tile");
                *out = *acc;
            }
        }
        for b in full_cols..n {
            for p in 0..TILE_ROWS {
                out[(i0 + p) * n + b] = column_dot(&w_tile[p * d..(p + 1) * d], xt, n, b);
            }
        }
    }
    for i in full_rows..rows {
        for b in 0..n {
            out[i * n + b] = column_dot(&w[i * d..(i + 1) * d], xt, n, b);
        }
    }
}

/// [`row_dots`] for a batch: `out[i·n + b] = w_i · x_b` for the N rows of `w` and the n samples of `xt`
/// (transposed as for [`batch_dots`]), each summed exactly as [`row_dots`] sums it ([`lane_dot`] with
/// [`ROW_LANES`] lanes), so that an online network's prediction of a sample does not depend on the batch
/// it is evaluated in. Tiles of 4 particles × 8 samples vectorise across samples, one lane's partial sums
/// at a time.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn batch_row_dots(w: &[f64], xt: &[f64], d: usize, n: usize, out: &mut [f64]) {
    let rows = out.len() / n;
    let full_rows = rows / TILE_ROWS * TILE_ROWS;
    let full_cols = n / TILE_COLS * TILE_COLS;
    let full = d / ROW_LANES * ROW_LANES;
    for i0 in (0..full_rows).step_by(TILE_ROWS) {
        let w_tile = &w[i0 * d..(i0 + TILE_ROWS) * d];
        for b0 in (0..full_cols).step_by(TILE_COLS) {
            let mut lanes = [[[0.0; TILE_COLS]; TILE_ROWS]; ROW_LANES];
            for (q, acc) in lanes.iter_mut().enumerate() {
                for j in (q..full).step_by(ROW_LANES) {
                    let x: &[f64; TILE_COLS] = xt[j * n + b0..][..TILE_COLS].try_into().expect("tile width");
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let wpj = w_tile[p * d + j];
                        for l in 0..TILE_COLS {
                            acc[l] = wpj.mul_add(x[l], acc[l]);
                        }
                    }
                }
            }
            let [mut sum, l1, l2, l3] = lanes;
            for p in 0..TILE_ROWS {
                for l in 0..TILE_COLS {
                    // `lane_dot`'s halving tree: lane 2 into 0 and 3 into 1, then 1 into 0.
                    sum[p][l] = (sum[p][l] + l2[p][l]) + (l1[p][l] + l3[p][l]);
                }
            }
            for j in full..d {
                let x: &[f64; TILE_COLS] = xt[j * n + b0..][..TILE_COLS].try_into().expect("tile width");
                for (p, sum) in sum.iter_mut().enumerate() {
                    let wpj = w_tile[p * d + j];
                    for l in 0..TILE_COLS {
                        sum[l] = wpj.mul_add(x[l], sum[l]);
                    }
                }
            }
            for (p, sum) in sum.iter().enumerate() {
                let out: &mut [f64; TILE_COLS] = (&mut out[(i0 + p) * n + b0..][..TILE_COLS]).try_into().expect("tile");
                *out = *sum;
            }
        }
        for b in full_cols..n {
            for p in 0..TILE_ROWS {
                out[(i0 + p) * n + b] = column_row_dot(&w_tile[p * d..(p + 1) * d], xt, n, b);
            }
        }
    }
    for i in full_rows..rows {
        for b in 0..n {
            out[i * n + b] = column_row_dot(&w[i * d..(i + 1) * d], xt, n, b);
        }
    }
}

/// One entry of [`batch_row_dots`] outside the full tiles: [`lane_dot`] with [`ROW_LANES`] lanes of `wi`
/// and sample b of `xt`.
#[inline(always)]
fn column_row_dot(wi: &[f64], xt: &[f64], n: usize, b: usize) -> f64 {
    let d = wi.len();
    let full = d / ROW_LANES * ROW_LANES;
    let mut acc = [0.0; ROW_LANES];
    for j in 0..full {
        acc[j % ROW_LANES] = wi[j].mul_add(xt[j * n + b], acc[j % ROW_LANES]);
    }
    let mut sum = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for j in full..d {
        sum = wi[j].mul_add(xt[j * n + b], sum);
    }
    sum
}

/// One entry of [`batch_dots`] outside the full tiles, in the same order.
#[inline(always)]
fn column_dot(wi: &[f64], xt: &[f64], n: usize, b: usize) -> f64 {
    let mut acc = 0.0;
    for (j, w) in wi.iter().enumerate() {
        acc = w.mul_add(xt[j * n + b], acc);
    }
    acc
}

/// Where [`accumulate_rows`] and [`weighted_sums`] put each sum g.
#[derive(Debug)]
pub enum RowTarget<'a> {
    /// `out[k] = g_k`.
    Store(&'a mut [f64]),
    /// `params[k] += eta · g_k`: with several samples a product then a sum, as `Store` followed by
    /// θ += η·direction; with one sample, where g_k is a single product a·b, (η·a)·b added in one fused
    /// multiply-add ([`step_product`]).
    Step { params: &'a mut [f64], eta: f64 },
}

impl<'a> RowTarget<'a> {
    /// The slice written and the step size of a `Step`.
    pub fn into_parts(self) -> (&'a mut [f64], Option<f64>) {
        match self {
            RowTarget::Store(out) => (out, None),
            RowTarget::Step { params, eta } => (params, Some(eta)),
        }
    }

    pub fn from_parts(out: &'a mut [f64], eta: Option<f64>) -> Self {
        match eta {
            None => RowTarget::Store(out),
            Some(eta) => RowTarget::Step { params: out, eta },
        }
    }
}

/// `Store` (`STEP` false) or `Step` of one sum.
#[inline(always)]
fn put<const STEP: bool>(slot: &mut f64, eta: f64, g: f64) {
    if STEP {
        *slot += eta * g;
    } else {
        *slot = g;
    }
}

/// The step of a parameter whose gradient is one product, θ += η·(a·b) for one sample, as θ ← (η·a)·b + θ
/// rounded once (`eta_a` = η·a, formed once per particle): one fused multiply-add per parameter where
/// rounding a·b, η·g and the sum takes three operations. It leaves what `Store` then θ += η·direction
/// leaves up to rounding (a few units in the last place of θ and of the update, tested), not bit for bit.
#[inline(always)]
pub fn step_product(slot: &mut f64, eta_a: f64, b: f64) {
    *slot = eta_a.mul_add(b, *slot);
}

/// The gradient of the weights: g_ij = Σ_b coef[i·n + b] · x[b·d + j] for particle-major `coef` (N×n)
/// and sample-major `x` (n×d), each summed in sample order from 0 with fused multiply-adds. Register tiles
/// of 4 particles × 8 (then 4) columns vectorise across columns.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn accumulate_rows(coef: &[f64], x: &[f64], d: usize, n: usize, target: RowTarget<'_>) {
    match target {
        RowTarget::Store(out) => accumulate::<false>(coef, x, d, n, out, 0.0),
        RowTarget::Step { params, eta } => accumulate::<true>(coef, x, d, n, params, eta),
    }
}

#[inline(always)]
fn accumulate<const STEP: bool>(coef: &[f64], x: &[f64], d: usize, n: usize, out: &mut [f64], eta: f64) {
    if n == 1 {
        // One sample: each sum is its one product, and a row at a time streams through the weights.
        for (row, k) in out.chunks_exact_mut(d).zip(coef) {
            if STEP {
                let eta_k = eta * k;
                for (slot, x) in row.iter_mut().zip(&x[..d]) {
                    step_product(slot, eta_k, *x);
                }
            } else {
                for (slot, x) in row.iter_mut().zip(&x[..d]) {
                    *slot = k.mul_add(*x, 0.0);
                }
            }
        }
        return;
    }
    let rows = coef.len() / n;
    let full_rows = rows / TILE_ROWS * TILE_ROWS;
    for i0 in (0..full_rows).step_by(TILE_ROWS) {
        let coef_tile = &coef[i0 * n..(i0 + TILE_ROWS) * n];
        let out_tile = &mut out[i0 * d..(i0 + TILE_ROWS) * d];
        let mut j0 = 0;
        while j0 + TILE_COLS <= d {
            tile::<TILE_COLS, STEP>(coef_tile, x, d, n, j0, out_tile, eta);
            j0 += TILE_COLS;
        }
        if j0 + TILE_COLS / 2 <= d {
            tile::<{ TILE_COLS / 2 }, STEP>(coef_tile, x, d, n, j0, out_tile, eta);
            j0 += TILE_COLS / 2;
        }
        for p in 0..TILE_ROWS {
            for j in j0..d {
                put::<STEP>(&mut out_tile[p * d + j], eta, row_column_sum(&coef_tile[p * n..(p + 1) * n], x, d, j));
            }
        }
    }
    for i in full_rows..rows {
        for j in 0..d {
            put::<STEP>(&mut out[i * d + j], eta, row_column_sum(&coef[i * n..(i + 1) * n], x, d, j));
        }
    }
}

/// Columns j0..j0 + C of the 4 rows of one tile of [`accumulate_rows`].
#[inline(always)]
fn tile<const C: usize, const STEP: bool>(
    coef_tile: &[f64],
    x: &[f64],
    d: usize,
    n: usize,
    j0: usize,
    out_tile: &mut [f64],
    eta: f64,
) {
    let mut acc = [[0.0; C]; TILE_ROWS];
    for b in 0..n {
        let xb: &[f64; C] = x[b * d + j0..][..C].try_into().expect("tile width");
        for (p, acc) in acc.iter_mut().enumerate() {
            let k = coef_tile[p * n + b];
            for l in 0..C {
                acc[l] = k.mul_add(xb[l], acc[l]);
            }
        }
    }
    for (p, acc) in acc.iter().enumerate() {
        let row: &mut [f64; C] = (&mut out_tile[p * d + j0..][..C]).try_into().expect("tile width");
        for l in 0..C {
            put::<STEP>(&mut row[l], eta, acc[l]);
        }
    }
}

/// One entry of [`accumulate_rows`] outside the full tiles, in the same order.
#[inline(always)]
fn row_column_sum(coef: &[f64], x: &[f64], d: usize, j: usize) -> f64 {
    let mut acc = 0.0;
    for (b, k) in coef.iter().enumerate() {
        acc = k.mul_add(x[b * d + j], acc);
    }
    acc
}

/// g_i = Σ_b weight_b · h[i·n + b] for particle-major `h` (N×n), in sample order from 0 with fused
/// multiply-adds: the gradient of the output weights.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn weighted_sums(h: &[f64], weight: &[f64], target: RowTarget<'_>) {
    match target {
        RowTarget::Store(out) => weighted::<false>(h, weight, out, 0.0),
        RowTarget::Step { params, eta } => weighted::<true>(h, weight, params, eta),
    }
}

#[inline(always)]
fn weighted<const STEP: bool>(h: &[f64], weight: &[f64], out: &mut [f64], eta: f64) {
    if let [w] = weight {
        // One sample: the loop over particles is the one to vectorise.
        if STEP {
            let eta_w = eta * w;
            for (slot, h) in out.iter_mut().zip(h) {
                step_product(slot, eta_w, *h);
            }
        } else {
            for (slot, h) in out.iter_mut().zip(h) {
                *slot = w.mul_add(*h, 0.0);
            }
        }
    } else {
        // WEIGHTED_ROWS particles at a time: each particle's sum is one chain of multiply-adds in sample
        // order, which alone waits on every addition (a 64-sample batch: 64 latencies per particle); side
        // by side the chains overlap. The order within each chain, and so every bit, is the same.
        let n = weight.len();
        let mut slots = out.chunks_exact_mut(WEIGHTED_ROWS);
        let mut rows = h.chunks_exact(WEIGHTED_ROWS * n);
        for (slots, rows) in (&mut slots).zip(&mut rows) {
            let mut acc = [0.0; WEIGHTED_ROWS];
            for (b, w) in weight.iter().enumerate() {
                for (p, acc) in acc.iter_mut().enumerate() {
                    *acc = w.mul_add(rows[p * n + b], *acc);
                }
            }
            for (slot, g) in slots.iter_mut().zip(acc) {
                put::<STEP>(slot, eta, g);
            }
        }
        for (slot, h) in slots.into_remainder().iter_mut().zip(rows.remainder().chunks_exact(n)) {
            let g = h.iter().zip(weight).fold(0.0, |g, (h, w)| w.mul_add(*h, g));
            put::<STEP>(slot, eta, g);
        }
    }
}

/// Particles whose sums [`weighted_sums`] runs side by side.
const WEIGHTED_ROWS: usize = 8;

/// coef[i·n + b] = σ'[i·n + b] · (r_b · scale · c_i), in place of σ': the per-(particle, sample) factor of the
/// hidden-layer gradients.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn gradient_coefficients(act_prime: &mut [f64], residual: &[f64], scale: f64, c: &[f64]) {
    let n = residual.len();
    if let [r] = residual {
        for (hp, c) in act_prime.iter_mut().zip(c) {
            *hp *= r * scale * c;
        }
    } else {
        for (hp, c) in act_prime.chunks_exact_mut(n).zip(c) {
            for (hp, r) in hp.iter_mut().zip(residual) {
                *hp *= r * scale * c;
            }
        }
    }
}

#[cfg(test)]
mod tests;
