//! Checked configurations (linfa's pattern): a configuration is checked once, and the constructors that
//! take the checked value cannot fail.

/// A configuration that passed its check (`OneHiddenConfig::check`, `TwoHiddenConfig::check`,
/// `KernelConfig::check`): what the infallible constructors take.
#[derive(Debug, Clone)]
pub struct Checked<C>(pub(crate) C);

impl<C> Checked<C> {
    /// The configuration.
    pub fn get(&self) -> &C {
        &self.0
    }
}
