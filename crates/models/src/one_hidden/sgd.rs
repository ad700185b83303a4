//! The dynamics of plain SGD on a [`OneHidden`] network without bias: each replica stepped in one pass per
//! step ([`FusedStepper`]), and small online networks in groups of vector lanes ([`OneHiddenLanes`]).

use super::fused::FusedStepper;
use super::lanes::{LANES, OneHiddenLanes, WIDE_LANES, max_lanes};
use super::{OneHidden, OneHiddenConfig};
use crate::Checked;
use meanfield_core::{Dynamics, SgdSettings, Stepper};

/// Plain SGD (no weight decay, no noise) of a [`OneHidden`] network without bias: the same bits as
/// `meanfield_dynamics::Sgd` on a batch (online within the rounding of one fused update), in one pass over
/// the particles per step. The scenario chooses it where it applies ([`OneHiddenSgd::new`]).
#[derive(Debug, Clone)]
pub struct OneHiddenSgd {
    config: Checked<OneHiddenConfig>,
    eta: f64,
    /// The most replicas one stepper advances together (1: no lanes).
    max_lanes: usize,
    /// Whether the activation is the built-in tanh, which the lanes evaluate with the output sums.
    builtin_tanh: bool,
}

impl OneHiddenSgd {
    /// The fused stepping of networks of `config` (its `max_batch` the batch of `settings`), or `None` where
    /// it does not apply: a bias, weight decay or noise.
    pub fn new(config: Checked<OneHiddenConfig>, settings: &SgdSettings) -> Option<OneHiddenSgd> {
        if config.get().bias || !settings.is_plain() {
            return None;
        }
        let max_lanes = max_lanes(config.get());
        Some(OneHiddenSgd { config, eta: settings.eta, max_lanes, builtin_tanh: false })
    }

    /// Declares that the network's activation is the built-in tanh (`BuiltinActivation::Tanh`): the lanes
    /// then evaluate it together with the output sums, with the bits of evaluating it alone.
    pub fn with_builtin_tanh(self) -> OneHiddenSgd {
        OneHiddenSgd { builtin_tanh: true, ..self }
    }
}

impl Dynamics for OneHiddenSgd {
    fn group(&self, left: usize) -> usize {
        [WIDE_LANES, LANES].into_iter().find(|&lanes| lanes <= self.max_lanes && lanes <= left).unwrap_or(1)
    }

    fn stepper(&self, replicas: usize) -> Box<dyn Stepper> {
        let (config, eta, tanh) = (&self.config, self.eta, self.builtin_tanh);
        match replicas {
            1 => Box::new(FusedStepper::new(OneHidden::from_checked(config), eta)),
            WIDE_LANES if self.max_lanes >= WIDE_LANES => {
                Box::new(OneHiddenLanes::<WIDE_LANES>::new(config, eta, tanh))
            }
            LANES if self.max_lanes >= LANES => Box::new(OneHiddenLanes::<LANES>::new(config, eta, tanh)),
            other => panic!("OneHiddenSgd groups replicas by 1, {LANES} or {WIDE_LANES}, not {other}"),
        }
    }
}
