//! What the benchmarks share: samples drawn once and cycled through, so that a benchmark measures the
//! step, not the sampler.

use meanfield_core::{DataDistribution, DataStream, Purpose, ReplicaStreams, Stream, StreamKey};

/// A replica's streams whose data cycles through `samples` samples of `data`, drawn once.
pub(crate) fn pooled_streams(data: &dyn DataDistribution, samples: usize, replica: u64) -> ReplicaStreams<'static> {
    let d = data.dim();
    let (mut x, mut y) = (vec![0.0; samples * d], vec![0.0; samples]);
    data.stream().fill(&mut StreamKey::replica(1, "", replica, Purpose::Data).stream(), &mut x, &mut y);
    ReplicaStreams {
        data: Box::new(Pool { x, y, d, next: 0 }),
        data_rng: StreamKey::replica(1, "", replica, Purpose::Data).stream(),
        noise_rng: StreamKey::replica(1, "", replica, Purpose::Noise).stream(),
    }
}

/// Samples handed out in turn.
struct Pool {
    x: Vec<f64>,
    y: Vec<f64>,
    d: usize,
    next: usize,
}

impl DataStream for Pool {
    fn fill(&mut self, _: &mut Stream, x: &mut [f64], y: &mut [f64]) {
        for (xb, yb) in x.chunks_exact_mut(self.d).zip(y) {
            xb.copy_from_slice(&self.x[self.next * self.d..][..self.d]);
            *yb = self.y[self.next];
            self.next = (self.next + 1) % self.y.len();
        }
    }
}
