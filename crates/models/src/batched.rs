//! What every model's `predict` does: forward passes over chunks of at most `max_batch` samples (the
//! size of the model's scratch), then the output of each sample of the chunk.

/// A model with a batched forward pass into its own scratch.
pub(crate) trait Batched {
    /// (input dimension d, largest batch the scratch holds).
    fn shape(&self) -> (usize, usize);
    /// Forward pass of the first `n` rows of `x`, values only.
    fn forward_values(&mut self, x: &[f64], n: usize);
    /// ŷ of sample `b` of the last forward pass.
    fn output(&self, b: usize) -> f64;
}

/// `Model::predict` for any [`Batched`] model.
pub(crate) fn predict_in_chunks(model: &mut impl Batched, x: &[f64], out: &mut [f64]) {
    let (d, chunk) = model.shape();
    for (xs, outs) in x.chunks(chunk * d).zip(out.chunks_mut(chunk)) {
        model.forward_values(xs, outs.len());
        for (b, o) in outs.iter_mut().enumerate() {
            *o = model.output(b);
        }
    }
}
