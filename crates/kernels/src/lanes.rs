//! Helpers for kernels written lane by lane: fixed-size arrays of f64 whose loops the compiler turns into
//! vector operations, so that every clone of a `multiversion` function (AVX-512, AVX2 + FMA, baseline)
//! does the same arithmetic in the same order and gives the same bits.

/// One value of each of L replicas, lane r holding replica r's (lane-interleaved data).
pub type Lane<const L: usize> = [f64; L];

/// Values per iteration of a slice function built with [`map_blocks!`]: four AVX2 registers, so that the
/// dependency chains of four registers overlap.
pub(crate) const BLOCK: usize = 16;
/// Values per iteration after the last full block.
pub(crate) const TAIL: usize = 4;

/// Σ_k c_k x^k for coefficients given highest power first, by second-order Horner: the even and the odd
/// powers are two independent Horner chains in x², joined by one multiply-add. Each chain is half as long
/// as plain Horner's, so the multiply-adds of one value overlap instead of waiting on each other.
#[inline(always)]
pub(crate) fn horner<const K: usize, const C: usize>(coefficients: &[f64; C], x: &[f64; K]) -> [f64; K] {
    let mut x2 = [0.0f64; K];
    for l in 0..K {
        x2[l] = x[l] * x[l];
    }
    // coefficients[k] multiplies x^(C − 1 − k): the chain of the top power starts at 0, the other at 1.
    let top_is_odd = (C - 1) % 2 == 1;
    let (first_odd, first_even) = if top_is_odd { (0, 1) } else { (1, 0) };
    let mut odd = [coefficients[first_odd]; K];
    let mut even = [coefficients[first_even]; K];
    let mut k = first_odd + 2;
    while k < C {
        for l in 0..K {
            odd[l] = odd[l].mul_add(x2[l], coefficients[k]);
        }
        k += 2;
    }
    let mut k = first_even + 2;
    while k < C {
        for l in 0..K {
            even[l] = even[l].mul_add(x2[l], coefficients[k]);
        }
        k += 2;
    }
    let mut out = [0.0f64; K];
    for l in 0..K {
        out[l] = odd[l].mul_add(x[l], even[l]);
    }
    out
}

/// `$lanes` (a `fn<const K>(&[f64; K]) -> [f64; K]`) of every entry of `$z` into `$out` (the same length),
/// BLOCK values at a time, then the rest in blocks of one register, the last one padded: lanes are
/// independent, so every value gets the bits of the scalar function, and a register costs little more than
/// the one value a scalar loop would wait on. A macro, not a function taking `$lanes`: a function item
/// passed along is compiled outside the caller's vector clone, where every `mul_add` is a call to a
/// software fma.
macro_rules! map_blocks {
    ($lanes:ident, $z:expr, $out:expr) => {{
        let (z, out): (&[f64], &mut [f64]) = ($z, $out);
        let len = z.len();
        let full = len / BLOCK * BLOCK;
        for (z, v) in z[..full].chunks_exact(BLOCK).zip(out[..full].chunks_exact_mut(BLOCK)) {
            let z: &[f64; BLOCK] = z.try_into().expect("block");
            let v: &mut [f64; BLOCK] = v.try_into().expect("block");
            *v = $lanes(z);
        }
        for (z, v) in z[full..len].chunks(TAIL).zip(out[full..len].chunks_mut(TAIL)) {
            // Lane by lane: a copy of run-time length would be a call to memcpy.
            let mut padded = [0.0; TAIL];
            for (b, z) in padded.iter_mut().zip(z) {
                *b = *z;
            }
            for (v, t) in v.iter_mut().zip($lanes(&padded)) {
                *v = t;
            }
        }
    }};
}
pub(crate) use map_blocks;

/// Σ_j a_j b_j over the first `len` entries of lane-interleaved `a` and `b`, in every one of the L lanes,
/// summed as `dense::lane_dot::<S>` sums: S partial sums over full chunks of S in index order, a halving
/// tree, then the tail in index order.
#[inline(always)]
pub fn lanes_dot<const S: usize, const L: usize>(a: &[f64], b: &[f64], len: usize) -> Lane<L> {
    let (a, b) = (&a[..len * L], &b[..len * L]);
    let mut acc = [[0.0; L]; S];
    let (mut a_chunks, mut b_chunks) = (a.chunks_exact(S * L), b.chunks_exact(S * L));
    for (a, b) in (&mut a_chunks).zip(&mut b_chunks) {
        for (l, acc) in acc.iter_mut().enumerate() {
            let (a, b): (&Lane<L>, &Lane<L>) = (lane(a, l), lane(b, l));
            for r in 0..L {
                acc[r] = a[r].mul_add(b[r], acc[r]);
            }
        }
    }
    let mut sum = halving_tree(acc);
    for (a, b) in a_chunks.remainder().chunks_exact(L).zip(b_chunks.remainder().chunks_exact(L)) {
        for r in 0..L {
            sum[r] = a[r].mul_add(b[r], sum[r]);
        }
    }
    sum
}

/// Lane `l` of a chunk.
#[inline(always)]
pub fn lane<const L: usize>(chunk: &[f64], l: usize) -> &Lane<L> {
    chunk[l * L..][..L].try_into().expect("a lane")
}

/// The S partial sums added as `lane_dot`'s halving tree: lane l + S/2 into lane l, …
#[inline(always)]
pub fn halving_tree<const S: usize, const L: usize>(mut acc: [Lane<L>; S]) -> Lane<L> {
    let mut width = S;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            for r in 0..L {
                acc[l][r] += acc[l + width][r];
            }
        }
    }
    acc[0]
}
