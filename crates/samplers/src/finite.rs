//! A finite training sample drawn once from a data law: the setting of full-batch gradient descent on P
//! points. Training draws from the P rows; held-out data comes from the law itself, so the recorded
//! risk is the population risk (generalisation), not the training error.

use crate::dataset::{Dataset, Sampling};
use meanfield_core::{DataDistribution, DataStream, Stream};
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub struct FiniteSample {
    sample: Dataset,
    law: Arc<dyn DataDistribution>,
}

impl FiniteSample {
    /// Draws `size` samples from `law` with `rng` (the seed's shared Sample stream).
    pub fn draw(law: Arc<dyn DataDistribution>, size: usize, sampling: Sampling, rng: &mut Stream) -> Self {
        let d = law.dim();
        let (mut x, mut y) = (vec![0.0; size * d], vec![0.0; size]);
        law.stream().fill(rng, &mut x, &mut y);
        let x = Array2::from_shape_vec((size, d), x).expect("size × d values");
        FiniteSample { sample: Dataset { path: PathBuf::from("sample"), x, y, test: None, sampling }, law }
    }

    /// The drawn rows (inputs row-major, targets).
    pub fn rows(&self) -> (&Array2<f64>, &[f64]) {
        (&self.sample.x, &self.sample.y)
    }
}

impl DataDistribution for FiniteSample {
    fn dim(&self) -> usize {
        self.law.dim()
    }
    fn name(&self) -> String {
        format!("sample(P={},{})", self.sample.rows(), self.law.name())
    }
    fn stream(&self) -> Box<dyn DataStream + '_> {
        self.sample.stream()
    }
    fn holdout(&self) -> Box<dyn DataStream + '_> {
        self.law.stream()
    }
    fn size(&self) -> Option<usize> {
        Some(self.sample.rows())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teacher::{Inputs, Teacher, TeacherStudent};
    use meanfield_core::{Purpose, StreamKey};

    fn law() -> Arc<dyn DataDistribution> {
        let teacher = Teacher::three_spin(3, &mut StreamKey::shared(1, Purpose::Teacher).stream());
        Arc::new(TeacherStudent { dim: 3, teacher, noise: 0.0, inputs: Inputs::Sphere })
    }

    /// An epoch of training data is exactly the P drawn rows (in some order); held-out data is fresh.
    #[test]
    fn training_cycles_through_the_sample_and_holdout_comes_from_the_law() {
        let sample =
            FiniteSample::draw(law(), 5, Sampling::Epochs, &mut StreamKey::shared(1, Purpose::Sample).stream());
        assert_eq!(sample.size(), Some(5));
        let (mut x, mut y) = (vec![0.0; 15], vec![0.0; 5]);
        sample.stream().fill(&mut StreamKey::shared(1, Purpose::Data).stream(), &mut x, &mut y);
        let (rows, targets) = sample.rows();
        let mut seen: Vec<f64> = y.clone();
        let mut expected = targets.to_vec();
        seen.sort_by(f64::total_cmp);
        expected.sort_by(f64::total_cmp);
        assert_eq!(seen, expected);
        for (xb, yb) in x.chunks_exact(3).zip(&y) {
            let row = targets.iter().position(|t| t == yb).unwrap();
            assert_eq!(xb, rows.row(row).as_slice().unwrap());
        }
        let (mut hx, mut hy) = (vec![0.0; 15], vec![0.0; 5]);
        sample.holdout().fill(&mut StreamKey::shared(1, Purpose::Holdout).stream(), &mut hx, &mut hy);
        assert!(hy.iter().all(|v| !targets.contains(v)), "held-out targets are fresh draws");
    }
}
