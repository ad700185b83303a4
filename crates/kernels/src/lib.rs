//! The numeric kernels of meanfield: meanfield's own tanh and exp, libm's erf a register at a time, and
//! the dense products of the one-hidden-layer network's hot loops.
//!
//! Every kernel defines its arithmetic (which products are fused, the order of every sum) independently of
//! tiling and vector width, and is compiled for AVX-512 (F + VL), for AVX2 + FMA and for the baseline by
//! `multiversion`, the best the machine has chosen at run time. So the clones give the same bits and
//! results do not depend on the machine; each kernel's tests compare it with a scalar spelling of its
//! definition, bit for bit. This crate depends on no other meanfield crate.

pub mod dense;
pub mod dormand_prince;
pub mod erf;
pub mod exp;
pub mod lanes;
pub mod tanh;

pub use erf::{erf, erf_derivative, erf_slice};
pub use exp::exp_slice;
pub use tanh::{tanh, tanh_lanes, tanh_slice};
