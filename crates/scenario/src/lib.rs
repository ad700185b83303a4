//! Scenario files: RON text → checked scenario → sweep points → runnable plans → results on disk.
//!
//! ```text
//! parse (positions kept) → validate values → expand sweep → build components → run → sinks
//! ```
//! Every failure on the way is a [`ScenarioError`] or [`RunError`] that names the place in the file.

pub mod bench;
mod build;
pub mod check;
pub mod error;
pub mod parse;
pub mod plugins;
pub mod run;
pub mod spec;

pub use check::Point;
pub use error::{Location, ScenarioError};
pub use run::{RunError, RunOptions, RunReport, run};
pub use spec::ScenarioSpec;

// The command-line tool (and later the Python module) depends on this crate alone: what it needs of the
// crates below is re-exported here.
pub use meanfield_core::Progress;
pub use meanfield_core::summary::Summary;
pub use meanfield_models::BuiltinActivation;
pub use meanfield_plot as plot;

use build::{BuildContext, BuildError};
use meanfield_core::FaultLog;
use meanfield_dynamics::PointPlan;
use meanfield_limit::{LimitDistance, LimitProblem, LimitSolution};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use spec::{DynamicsSpec, ModelSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Plans with the solved limit of each (`None` where the point has none).
pub type PlansWithLimits = (Vec<PointPlan>, Vec<Option<Arc<LimitSolution>>>);

/// A distinct limit problem of a scenario, the PDE times it is needed at, and the points that share it.
type LimitGroup = (LimitProblem, Vec<f64>, Vec<usize>);

/// A checked scenario and its sweep points.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub spec: ScenarioSpec,
    /// The text it was read from (kept for the manifest and error messages).
    pub text: String,
    /// The file name, or `<embedded default>`.
    pub origin: String,
    /// Data file paths are relative to this directory (the scenario file's).
    pub base_dir: PathBuf,
    pub points: Vec<Point>,
}

impl Scenario {
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        Scenario::from_text(&text, &path.display().to_string(), &base_dir)
    }

    pub fn from_text(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let spec = parse::parse(text, origin)?;
        let locate = |invalid: check::Invalid, point: Option<&Point>| {
            let (message, location_path) = match point {
                Some(p) if !p.label.is_empty() => {
                    let by_width = invalid.path.starts_with("model.width") && spec.sweep.width.is_some();
                    let sweep_path = if by_width { "sweep.width" } else { "sweep.fields" };
                    (format!("{} (in sweep point '{}')", invalid.message, p.label), sweep_path.to_owned())
                }
                _ => (invalid.message, invalid.path.clone()),
            };
            ScenarioError::Invalid {
                origin: origin.to_owned(),
                location: Location::of_field(origin, text, &location_path),
                path: invalid.path,
                message,
            }
        };
        check::validate(&spec).map_err(|e| locate(e, None))?;
        let points = check::expand(&spec).map_err(|e| locate(e, None))?;
        for point in &points {
            check::validate(&point.spec).map_err(|e| locate(e, Some(point)))?;
        }
        Ok(Scenario { spec, text: text.to_owned(), origin: origin.to_owned(), base_dir: base_dir.to_owned(), points })
    }

    /// Builds the components of every point (reads data files, loads plugins and makes their instances).
    /// A scenario with a `limit` has its limit problems built (and so checked) here, but not solved:
    /// that is [`Scenario::with_limits`], which [`run`] calls.
    pub fn plans(&self) -> Result<Vec<PointPlan>, ScenarioError> {
        let plans = self.plans_without_limit()?;
        if self.spec.limit.is_some() {
            self.limit_groups(&plans)?;
        }
        if let (Some(ldp), Some(plan)) = (&self.spec.ldp, plans.first()) {
            // The limit's columns are added when it is solved, at run time.
            let from_limit = self.spec.limit.is_some()
                && (ldp.column.starts_with("W1(") || ldp.column == meanfield_limit::LIMIT_RISK_COLUMN);
            let columns = plan.columns();
            if !from_limit && !columns.contains(&ldp.column) {
                return Err(ScenarioError::Invalid {
                    origin: self.origin.clone(),
                    location: Location::of_field(&self.origin, &self.text, "ldp.column"),
                    path: "ldp.column".into(),
                    message: format!("'{}' is not recorded; the columns are: {}", ldp.column, columns.join(", ")),
                });
            }
        }
        Ok(plans)
    }

    /// Solves the limit of every group of points that share one (they differ only in width, replicas or
    /// step rule) at the PDE times k·η of all their record steps, and adds a [`LimitDistance`] observable
    /// to each of their plans; returns the plans with each point's solution (`None` without a limit). The
    /// solves run in parallel on the current rayon pool; each is deterministic, so the thread count does not
    /// change the results.
    pub fn with_limits(&self, mut plans: Vec<PointPlan>) -> Result<PlansWithLimits, ScenarioError> {
        let mut limits = vec![None; plans.len()];
        if self.spec.limit.is_none() {
            return Ok((plans, limits));
        }
        let groups = self.limit_groups(&plans)?;
        let solutions: Vec<_> = groups.par_iter().map(|(problem, times, _)| problem.solve(times)).collect();
        for ((_, _, members), solution) in groups.iter().zip(solutions) {
            let solution = Arc::new(
                solution.map_err(|e| self.build_error(BuildError::Limit(format!("cannot solve the limit: {e}"))))?,
            );
            for &m in members {
                let step_size = plans[m].info.step_size;
                plans[m].observables.push(Arc::new(LimitDistance { limit: solution.clone(), step_size }));
                limits[m] = Some(solution.clone());
            }
        }
        Ok((plans, limits))
    }

    /// The distinct limit problems of the points, each with the PDE times it is needed at and its points.
    fn limit_groups(&self, plans: &[PointPlan]) -> Result<Vec<LimitGroup>, ScenarioError> {
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, point) in self.points.iter().enumerate() {
            let mut key_spec = point.spec.clone();
            if let ModelSpec::OneHidden { width, .. } = &mut key_spec.model {
                *width = 0;
            }
            let key = format!("{:?}|{:?}|{:?}|{}", key_spec.model, key_spec.data, key_spec.limit, point.seed)
                + &match key_spec.dynamics {
                    DynamicsSpec::NoisySgd { weight_decay, temperature, .. } => {
                        format!("|{weight_decay}|{temperature}")
                    }
                    _ => String::new(),
                };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(index),
                None => groups.push((key, vec![index])),
            }
        }
        let mut problems = Vec::with_capacity(groups.len());
        for (_, members) in groups {
            let first = &self.points[members[0]];
            let faults = Arc::new(FaultLog::default());
            let ctx = BuildContext { base_dir: &self.base_dir, faults: &faults };
            let problem = build::limit_problem(&first.spec, first.seed, &ctx).map_err(|e| self.build_error(e))?;
            let mut times: Vec<f64> = members
                .iter()
                .flat_map(|&m| {
                    plans[m].record_steps.iter().map(|&k| k as f64 * plans[m].info.step_size).collect::<Vec<_>>()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times.dedup();
            problems.push((problem, times, members));
        }
        Ok(problems)
    }

    fn plans_without_limit(&self) -> Result<Vec<PointPlan>, ScenarioError> {
        self.points
            .iter()
            .enumerate()
            .map(|(index, point)| {
                let faults = Arc::new(FaultLog::default());
                let ctx = BuildContext { base_dir: &self.base_dir, faults: &faults };
                let data = build::data(&point.spec.data, point.seed, &ctx).map_err(|e| self.build_error(e))?;
                check::validate_observables(&point.spec, Some(data.dim())).map_err(|e| ScenarioError::Invalid {
                    origin: self.origin.clone(),
                    location: Location::of_field(&self.origin, &self.text, &e.path),
                    path: e.path,
                    message: e.message,
                })?;
                build::plan(index, point, data, self.spec.replicas, &ctx).map_err(|e| self.build_error(e))
            })
            .collect()
    }

    fn build_error(&self, error: BuildError) -> ScenarioError {
        match error {
            BuildError::Data(error) => ScenarioError::Data { origin: self.origin.clone(), error },
            BuildError::Model(message) => ScenarioError::Invalid {
                origin: self.origin.clone(),
                location: Location::of_field(&self.origin, &self.text, "model"),
                path: "model".into(),
                message,
            },
            BuildError::Configuration(error) => ScenarioError::Invalid {
                origin: self.origin.clone(),
                location: Location::of_field(&self.origin, &self.text, "ensemble"),
                path: "ensemble".into(),
                message: error.to_string(),
            },
            BuildError::Limit(message) => ScenarioError::Invalid {
                origin: self.origin.clone(),
                location: Location::of_field(&self.origin, &self.text, "limit"),
                path: "limit".into(),
                message,
            },
            BuildError::Plugin { path, params, source: error } => {
                // A parameter error inside the plugin points into the params text, else at the reference.
                let location = match error.as_ref() {
                    plugins::PluginError::Rejected { line, col, .. } if *line > 0 => Location::within_field(
                        &self.origin,
                        &self.text,
                        &format!("{path}.params"),
                        &params,
                        *line as usize,
                        *col as usize,
                    ),
                    _ => None,
                }
                .or_else(|| Location::of_field(&self.origin, &self.text, &format!("{path}.name")))
                .or_else(|| Location::of_field(&self.origin, &self.text, &path));
                ScenarioError::Plugin { origin: self.origin.clone(), path, location, error }
            }
        }
    }

    /// Where results go unless overridden: `output`, or `results/<name>`.
    pub fn output_dir(&self) -> PathBuf {
        PathBuf::from(self.spec.output.clone().unwrap_or_else(|| format!("results/{}", self.spec.name)))
    }

    /// SHA-256 of the scenario text, hex.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}
