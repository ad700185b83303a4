//! The memory a scenario needs, estimated from its spec (and its data files' headers and lengths) before
//! anything is allocated from a size the user wrote, and the memory this process may use. Every size is
//! multiplied in `u128`, saturating: anything from 2^64 bytes on is "more than 16 EiB".
//!
//! The estimate is an upper bound of what checking, building and running hold at once: the run keeps
//! every replica's records (and kept particles) until they are written, so the results of all points are
//! summed, plus the largest working set (the replicas that step at once, with their networks, batches
//! and held-out samples). [`estimate`] only reports (commands that prepare work for other machines use
//! it); [`within_budget`] refuses what this process could not hold, naming the field that dominates.

use crate::check::Invalid;
use crate::spec::*;
use meanfield_dynamics::Schedule;
use meanfield_samplers as samplers;
use std::fmt;
use std::path::Path;

mod holding;
mod limits;
mod points;
#[cfg(test)]
mod tests;
mod units;

pub use holding::Holding;
pub use limits::{BUDGET_VARIABLE, Budget, budget};
use points::{sweep_points, worst_points};
pub use units::Bytes;
use units::count;

/// Bytes of an `f64` (and of a `u64` or `usize` index).
const WORD: u128 = 8;
/// A record's fixed part: its step, time and the header of its values' vector, with allocator overhead.
const RECORD: u128 = 64;
/// A replica's result besides its records (divergence, weights, vectors' headers).
const RESULT: u128 = 256;
/// A column's name, with its string's header, as the plans and the writers hold it.
const COLUMN_NAME: u128 = 96;
/// Samples of a network's forward pass when it is not batched (its predict chunk is at most this).
const CHUNK: u128 = 32;
/// Replicas one stepper advances together at most (the lanes of the fused step).
const LANES: u128 = 8;

/// One factor of a need: the field it comes from, its value, what is usual for it (the field that
/// dominates is the one furthest above its usual value), and how to say it.
#[derive(Debug, Clone, PartialEq)]
struct Factor {
    field: String,
    value: u128,
    usual: u128,
    /// The value in words, e.g. "1e15 replicas"; `plural` picks "need" or "needs".
    what: String,
    plural: bool,
}

fn factor(field: &str, value: u128, usual: u128, what: String, plural: bool) -> Factor {
    Factor { field: field.to_owned(), value, usual, what, plural }
}

/// Memory one part needs, with the factors it is the product of.
#[derive(Debug, Clone, PartialEq)]
struct Need {
    bytes: u128,
    factors: Vec<Factor>,
}

impl Need {
    /// The product of `words` 8-byte values per unit of `factors`' product, saturating.
    fn words(words: u128, factors: Vec<Factor>) -> Need {
        Need::bytes(words.saturating_mul(WORD), factors)
    }
    fn bytes(bytes: u128, factors: Vec<Factor>) -> Need {
        Need { bytes, factors }
    }
    /// This need `times` over (every point of a sweep keeps its results), with `by` as one more factor.
    fn times(mut self, times: u128, by: Option<Factor>) -> Need {
        self.bytes = self.bytes.saturating_mul(times);
        self.factors.extend(by);
        self
    }
}

/// What a scenario needs in this process, and the field whose value dominates it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    pub bytes: Bytes,
    /// The dotted path of the dominating field (`replicas`, `model.width`, `sweep.fields`, …).
    pub field: String,
    /// Its value in words, with the verb that agrees: "1e15 replicas need".
    pub what: String,
}

/// The estimate of a checked scenario with the budget it was held to.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryReport {
    pub estimate: MemoryEstimate,
    pub budget: Budget,
    /// What the estimate counted.
    pub holding: Holding,
    /// The dimension of a plugin data law, once known (the estimate took it into account).
    pub plugin_dim: Option<usize>,
}

impl fmt::Display for MemoryReport {
    /// `needs about 1.2 MiB of 22 GiB (available memory)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let budget = Bytes(u128::from(self.budget.bytes));
        write!(f, "needs about {} of {budget} ({})", self.estimate.bytes, self.budget.source)
    }
}

/// Estimates what `spec` needs (data file paths relative to `base_dir`) and refuses it, naming the
/// dominating field, the need and the budget, when this process may not use that much.
pub fn within_budget(spec: &ScenarioSpec, base_dir: &Path, holding: Holding) -> Result<MemoryReport, Invalid> {
    let budget = budget()?;
    let estimate = estimate_holding(spec, base_dir, None, holding, None);
    refuse_over(&estimate, &budget)?;
    Ok(MemoryReport { estimate, budget, holding, plugin_dim: None })
}

impl MemoryReport {
    /// The report made again, against the same budget, once a plugin data law's dimension `plugin_dim`
    /// is known (the first estimate took it as 1): held-out samples, kept particles and networks grow with it.
    pub fn with_plugin_dim(&self, spec: &ScenarioSpec, base_dir: &Path, plugin_dim: usize) -> Result<Self, Invalid> {
        let estimate = estimate_holding(spec, base_dir, Some(plugin_dim), self.holding, None);
        refuse_over(&estimate, &self.budget)?;
        Ok(MemoryReport { estimate, budget: self.budget.clone(), holding: self.holding, plugin_dim: Some(plugin_dim) })
    }

    /// What another process needs of the same scenario: one holding `holding` on `threads` threads (a
    /// Slurm task's `--cpus-per-task`; the replicas that step at once are one per thread).
    pub fn for_process(
        &self,
        spec: &ScenarioSpec,
        base_dir: &Path,
        holding: Holding,
        threads: usize,
    ) -> MemoryEstimate {
        estimate_holding(spec, base_dir, self.plugin_dim, holding, Some(threads))
    }
}

/// `Err` naming the field, the need and the budget when `estimate` exceeds `budget`.
pub fn refuse_over(estimate: &MemoryEstimate, budget: &Budget) -> Result<(), Invalid> {
    if estimate.bytes.0 <= u128::from(budget.bytes) {
        return Ok(());
    }
    Err(Invalid {
        path: estimate.field.clone(),
        message: format!(
            "{} {}; this process may use {} ({})",
            estimate.what,
            estimate.bytes,
            Bytes(u128::from(budget.bytes)),
            budget.source
        ),
    })
}

/// What `spec` needs in one process, without refusing anything.
pub fn estimate(spec: &ScenarioSpec, base_dir: &Path) -> MemoryEstimate {
    estimate_at(spec, base_dir, None)
}

/// [`estimate`] with a plugin data law of dimension `plugin_dim` (`None`: not known yet, taken as 1).
pub fn estimate_at(spec: &ScenarioSpec, base_dir: &Path, plugin_dim: Option<usize>) -> MemoryEstimate {
    estimate_holding(spec, base_dir, plugin_dim, Holding::Whole, None)
}

/// [`estimate_at`] for a process that holds `holding` of the run's results, on `threads` worker threads
/// (`None`: this machine's cores).
pub fn estimate_holding(
    spec: &ScenarioSpec,
    base_dir: &Path,
    plugin_dim: Option<usize>,
    holding: Holding,
    threads: Option<usize>,
) -> MemoryEstimate {
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1) as u128;
    let points = sweep_points(&spec.sweep);
    let points_factor =
        (points > 1).then(|| factor("sweep", points, 100, format!("{} sweep points", count(points)), true));
    let mut needs = Vec::new();
    // Every point keeps its results and components: the worst point's, as often as there are points.
    let worst: Vec<PointNeeds> =
        worst_points(spec).iter().map(|p| point_needs(p, base_dir, plugin_dim, threads)).collect();
    let total = |needs: &[Need]| needs.iter().fold(0u128, |sum, n| sum.saturating_add(n.bytes));
    if let Some(kept) = worst.iter().map(|p| &p.kept).max_by_key(|k| total(k)) {
        // A point's records grow with its replicas: a shard holds its share of all points' replicas, a
        // merge one point's at a time, three times over (the text of its lines, the parsed lines, the
        // allocator's slack between points: 8 points × 4000 replicas × 101 records merged in 136 MiB
        // resident against 77 MiB for one point's text and results). An LDP average over a window keeps
        // that window of every point through the analyses, so a merge holds it all. What does not grow
        // with the replicas (data sets, limit grids, resamples) every process holds for every point.
        let replicas = (spec.replicas as u128).max(1);
        let windowed = spec.ldp.as_ref().is_some_and(|l| l.average_from.is_some());
        let kept_of = |n: &Need| {
            let per_replica = n.factors.iter().any(|f| f.field == "replicas");
            match holding {
                Holding::Shard { count } if per_replica => {
                    let held = points.saturating_mul(replicas).div_ceil((count as u128).max(1));
                    Need { bytes: n.bytes.saturating_mul(held).div_ceil(replicas), factors: n.factors.clone() }
                }
                Holding::Merge if per_replica && !windowed => n.clone().times(3, None),
                _ => n.clone().times(points, points_factor.clone()),
            }
        };
        needs.extend(kept.iter().map(kept_of));
    }
    if let Some(working) = worst.iter().map(|p| &p.working).max_by_key(|w| total(w)) {
        needs.extend(working.iter().cloned());
    }
    // Each point is a copy of the scenario (as a spec, a JSON value while it is expanded, and resolved).
    let spec_size = serde_json::to_vec(spec).map_or(4096, |v| v.len()) as u128;
    needs.push(Need::bytes(
        points.saturating_mul(spec_size.saturating_mul(4).saturating_add(4096)),
        points_factor.into_iter().collect(),
    ));
    let bytes = total(&needs);
    let (field, what) = match dominant(&needs) {
        Some(f) => swept_as(spec, f),
        None => ("replicas".to_owned(), format!("{} replicas need", count(spec.replicas as u128))),
    };
    MemoryEstimate { bytes: Bytes(bytes), field, what }
}

/// The factor that dominates: of the largest need, the factor furthest above its usual value.
fn dominant(needs: &[Need]) -> Option<&Factor> {
    needs.iter().max_by_key(|n| n.bytes).and_then(|n| {
        n.factors.iter().max_by(|a, b| {
            let excess = |f: &Factor| f.value as f64 / f.usual.max(1) as f64;
            excess(a).total_cmp(&excess(b))
        })
    })
}

/// The field and words of a factor, as the scenario writes it: a swept width is `sweep.width`, another
/// swept field `sweep.fields`.
fn swept_as(spec: &ScenarioSpec, f: &Factor) -> (String, String) {
    let verb = if f.plural { "need" } else { "needs" };
    let width = matches!(f.field.as_str(), "model.width" | "model.width1" | "model.width2");
    if width && spec.sweep.width.is_some() {
        return ("sweep.width".into(), format!("{} {verb}", f.what));
    }
    if spec.sweep.fields.iter().any(|(path, _)| *path == f.field) {
        return ("sweep.fields".into(), format!("{} ('{}') {verb}", f.what, f.field));
    }
    (f.field.clone(), format!("{} {verb}", f.what))
}

/// What one point keeps until the run ends (its results and components), and what the replicas that
/// step at once hold.
#[derive(Debug, Default)]
struct PointNeeds {
    kept: Vec<Need>,
    working: Vec<Need>,
}

/// What the data law of a point holds: its dimension (with the factor that names it), what it keeps,
/// and what each replica's data streams hold.
struct DataNeeds {
    dim: u128,
    dim_factor: Factor,
    /// Rows of a finite data set (the batch of full-batch GD).
    rows: Option<(u128, Factor)>,
    kept: Vec<Need>,
    per_stream: Vec<Need>,
}

fn data_needs(data: &DataSpec, path: &str, base_dir: &Path, plugin_dim: Option<usize>) -> DataNeeds {
    let dim_field = format!("{path}.dim");
    let dim_factor = |d: u128| factor(&dim_field, d, 100, format!("a dimension of {}", count(d)), false);
    match data {
        DataSpec::TeacherStudent { dim, teacher, .. } => {
            let d = *dim as u128;
            let (mut kept, mut per_stream) = (Vec::new(), Vec::new());
            match teacher {
                TeacherSpec::Network { width, .. } => {
                    let k = *width as u128;
                    let units = factor(
                        &format!("{path}.teacher.width"),
                        k,
                        1000,
                        format!("a teacher network of width {}", count(k)),
                        false,
                    );
                    kept.push(Need::words(k.saturating_mul(d.saturating_add(1)), vec![units.clone(), dim_factor(d)]));
                    per_stream.push(Need::words(k.saturating_mul(2), vec![units]));
                }
                TeacherSpec::ThreeSpin => {
                    let what = format!("ThreeSpin couplings of dimension {}", count(d));
                    let cube = d.saturating_mul(d).saturating_mul(d.saturating_add(8));
                    kept.push(Need::words(cube, vec![factor(&dim_field, d, 10, what, true)]));
                }
                TeacherSpec::SingleIndex { .. } | TeacherSpec::Mixture { .. } | TeacherSpec::Linear { .. } => {
                    kept.push(Need::words(d, vec![dim_factor(d)]));
                }
            }
            DataNeeds { dim: d, dim_factor: dim_factor(d), rows: None, kept, per_stream }
        }
        DataSpec::IsotropicGaussians { dim, .. } => {
            let d = *dim as u128;
            DataNeeds { dim: d, dim_factor: dim_factor(d), rows: None, kept: Vec::new(), per_stream: Vec::new() }
        }
        DataSpec::Dataset { path: file, features, .. } => {
            let file_field = format!("{path}.path");
            // A file that cannot be read is refused by name when it is loaded; here it needs nothing.
            let shape = samplers::data_file_shape(&base_dir.join(file))
                .unwrap_or(samplers::FileShape { columns: 2, values: 0 });
            let columns = shape.columns.max(1) as u128;
            let d = match features {
                FeaturesSpec::AllExceptTarget => columns.saturating_sub(1).max(1),
                FeaturesSpec::Columns(list) => list.len().max(1) as u128,
            };
            let values = u128::from(shape.values);
            let rows = values / columns;
            let what = format!("the data file's {} values", count(values));
            let file_factor = factor(&file_field, values, 1_000_000, what, true);
            let rows_factor = factor(&file_field, rows, 100_000, format!("the data file's {} rows", count(rows)), true);
            DataNeeds {
                dim: d,
                dim_factor: factor(&file_field, d, 100, format!("the data file's {} columns", count(d)), true),
                rows: Some((rows, rows_factor.clone())),
                // The table read, its selected inputs and targets, and the held-out split.
                kept: vec![Need::words(values.saturating_mul(3), vec![file_factor])],
                // An epoch order per stream.
                per_stream: vec![Need::words(rows, vec![rows_factor])],
            }
        }
        DataSpec::Sample { size, from, .. } => {
            let mut inner = data_needs(from, &format!("{path}.from"), base_dir, plugin_dim);
            let n = *size as u128;
            let rows = factor(&format!("{path}.size"), n, 100_000, format!("{} sampled rows", count(n)), true);
            let row_words = inner.dim.saturating_add(1);
            inner.kept.push(Need::words(n.saturating_mul(row_words), vec![rows.clone(), inner.dim_factor.clone()]));
            inner.per_stream.push(Need::words(n, vec![rows.clone()]));
            inner.rows = Some((n, rows));
            inner
        }
        // A plugin's dimension is known once it is built: 1 until then, and the estimate is made again.
        DataSpec::Plugin { .. } => DataNeeds {
            dim: plugin_dim.unwrap_or(1) as u128,
            dim_factor: {
                let d = plugin_dim.unwrap_or(1) as u128;
                factor(path, d, 100, format!("the plugin's data of dimension {}", count(d)), false)
            },
            rows: None,
            kept: Vec::new(),
            per_stream: Vec::new(),
        },
    }
}

/// The parameters and hidden units of a model of input dimension `d`, with the factors of its widths.
fn model_size(model: &ModelSpec, d: u128) -> (u128, u128, Vec<Factor>) {
    let width = |field: &str, n: usize| {
        let n = n as u128;
        factor(field, n, 1000, format!("a width of {}", count(n)), false)
    };
    match model {
        ModelSpec::OneHidden { width: n, b, .. } => {
            let per_unit = d.saturating_add(if *b == BlockSpec::Absent { 1 } else { 2 });
            ((*n as u128).saturating_mul(per_unit), *n as u128, vec![width("model.width", *n)])
        }
        ModelSpec::TwoHidden { width1, width2, .. } => {
            let (n1, n2) = (*width1 as u128, *width2 as u128);
            let params = n1.saturating_mul(d).saturating_add(n2.saturating_mul(n1)).saturating_add(n2);
            (params, n1.saturating_add(n2), vec![width("model.width1", *width1), width("model.width2", *width2)])
        }
        ModelSpec::KernelParticles { width: n, .. } => {
            ((*n as u128).saturating_mul(d.saturating_add(1)), *n as u128, vec![width("model.width", *n)])
        }
    }
}

/// The number of columns a point records, with the factor that names the largest contribution.
fn columns(spec: &ScenarioSpec, blocks: u128) -> (u128, Factor) {
    let mut total = 0u128;
    let mut largest: (u128, Factor) = (0, factor("observables", 0, 10, String::new(), true));
    for observable in &spec.observables {
        let (n, field, what) = match observable {
            ObservableSpec::Risk { .. } => (1, "observables", None),
            ObservableSpec::Moments => (2 * blocks, "observables", None),
            ObservableSpec::Variances => (blocks, "observables", None),
            ObservableSpec::Histogram { bins, .. } => {
                let b = *bins as u128;
                (b, "observables.bins", Some(format!("{} histogram bins", count(b))))
            }
            ObservableSpec::Averages(functions) => (functions.len() as u128, "observables", None),
            ObservableSpec::Tagged { .. } => (2, "observables", None),
            ObservableSpec::PopulationRisk(_) => (1, "observables", None),
            ObservableSpec::Predictions { at } => {
                let n = at.len() as u128;
                (n, "observables.at", Some(format!("{} test points", count(n))))
            }
            ObservableSpec::LayerDependence { features, .. } => {
                let f = *features as u128;
                (f.saturating_add(1).saturating_mul(2), "observables.features", Some(format!("{} features", count(f))))
            }
        };
        total = total.saturating_add(n);
        if n > largest.0 {
            let what = what.unwrap_or_else(|| format!("{} recorded columns", count(n)));
            largest = (n, factor(field, n, 10, what, true));
        }
    }
    if let Some(limit) = &spec.limit {
        total = total.saturating_add(3 * limit.distances().len() as u128 + 1);
    }
    (total, largest.1)
}

/// What one point (its spec with the sweep's values filled in) needs; `threads` replicas' units step at
/// once.
fn point_needs(spec: &ScenarioSpec, base_dir: &Path, plugin_dim: Option<usize>, threads: u128) -> PointNeeds {
    let data = data_needs(&spec.data, "data", base_dir, plugin_dim);
    let d = data.dim;
    let (params, hidden, widths) = model_size(&spec.model, d);
    let model_factors = || widths.iter().cloned().chain([data.dim_factor.clone()]).collect::<Vec<_>>();
    let blocks = match spec.model {
        ModelSpec::OneHidden { ref b, .. } if *b != BlockSpec::Absent => 3,
        ModelSpec::OneHidden { .. } | ModelSpec::KernelParticles { .. } => 2,
        ModelSpec::TwoHidden { .. } => 3,
    };
    let r = spec.replicas as u128;
    let replicas = factor("replicas", r, 100, format!("{} replicas", count(r)), true);

    // Steps and records, as the schedule will count them.
    let rule = spec.dynamics.step();
    let width = spec.model.step_width();
    let steps = match spec.horizon {
        Horizon::Time(t) => (t / rule.time_per_step(width)).round() as u64,
        Horizon::Steps(n) => n,
    };
    let schedule = match spec.record {
        RecordSpec::Every(dt) => Schedule::Every(dt),
        RecordSpec::LogSpaced(n) => Schedule::LogSpaced(n),
    };
    let k = u128::from(schedule.count(steps, rule, width));
    let record = factor("record", k, 100, format!("{} record steps", count(k)), true);
    let (c, columns_factor) = columns(spec, blocks);
    let record_bytes = RECORD.saturating_add(c.saturating_mul(WORD));

    let mut kept = data.kept;
    kept.push(Need::bytes(
        r.saturating_mul(k).saturating_mul(record_bytes),
        vec![replicas.clone(), record.clone(), columns_factor.clone()],
    ));
    kept.push(Need::bytes(r.saturating_mul(RESULT), vec![replicas.clone()]));
    kept.push(Need::words(k.saturating_mul(4), vec![record.clone()]));
    kept.push(Need::bytes(c.saturating_mul(COLUMN_NAME).saturating_mul(2), vec![columns_factor.clone()]));
    if let Some(particles) = &spec.outputs.particles {
        let kept_replicas = (particles.replicas as u128).min(r);
        let times = (particles.times.len() as u128).min(k);
        let mut factors = vec![
            factor(
                "outputs.particles.replicas",
                kept_replicas,
                10,
                format!("{} particle replicas", count(kept_replicas)),
                true,
            ),
            factor("outputs.particles.times", times, 10, format!("{} particle times", count(times)), true),
        ];
        factors.extend(model_factors());
        let bytes = params.saturating_mul(WORD).saturating_add(RECORD);
        kept.push(Need::bytes(kept_replicas.saturating_mul(times).saturating_mul(bytes), factors));
    }
    let features = spec.observables.iter().find_map(|o| match o {
        ObservableSpec::LayerDependence { features, .. } => Some(*features as u128),
        _ => None,
    });
    let features_factor = |f: u128| factor("observables.features", f, 100, format!("{} features", count(f)), true);
    if let Some(f) = features {
        kept.push(Need::words(
            f.saturating_mul(d.saturating_add(3)),
            vec![features_factor(f), data.dim_factor.clone()],
        ));
    }
    // The fixed sample sets of population losses (an evaluation set, gradient flow's training set), kept
    // for the whole run and shared by the point's replicas.
    let population_sets = spec
        .observables
        .iter()
        .filter_map(|o| match o {
            ObservableSpec::PopulationRisk(PopulationSpec::Sample { size }) => Some((*size, "observables.size")),
            _ => None,
        })
        .chain(match spec.dynamics {
            DynamicsSpec::GradientFlow { training: PopulationSpec::Sample { size }, .. } => {
                Some((size, "dynamics.training.size"))
            }
            _ => None,
        });
    // Each is drawn into vectors and then moved into shared storage, a copy: while a point is built, its
    // largest set is held twice.
    let mut largest_set: Option<Need> = None;
    for (size, field) in population_sets {
        let n = size as u128;
        let set = Need::words(
            n.saturating_mul(d.saturating_add(1)),
            vec![factor(field, n, 10_000, format!("{} population samples", count(n)), true), data.dim_factor.clone()],
        );
        if largest_set.as_ref().is_none_or(|l| l.bytes < set.bytes) {
            largest_set = Some(set.clone());
        }
        kept.push(set);
    }
    if let Some(LimitSpec::Embedding { nodes, c_nodes, data_points, .. }) = &spec.limit {
        // The ODE state (first-layer nodes × (d + second-layer nodes)) at every record and in the
        // integrator's eight stages, and the data points with their labels.
        let (n, c, s) = (*nodes as u128, *c_nodes as u128, *data_points as u128);
        let state = n.saturating_mul(d.saturating_add(c).saturating_add(1));
        let nodes_factor = factor("limit.nodes", n, 1000, format!("{} limit nodes", count(n)), true);
        kept.push(Need::words(state.saturating_mul(k.saturating_add(8)), vec![nodes_factor, record.clone()]));
        let points = factor("limit.data_points", s, 1000, format!("{} limit data points", count(s)), true);
        kept.push(Need::words(s.saturating_mul(d.saturating_add(2)), vec![points]));
    } else if let Some(limit) = &spec.limit {
        let (cells, axes) = match limit {
            LimitSpec::Grid { cells, c: Some(_), .. } => (*cells as u128, 2),
            LimitSpec::Grid { cells, .. } | LimitSpec::Radial { cells, .. } => (*cells as u128, 1),
            LimitSpec::Embedding { .. } => (0, 1),
        };
        let grid = cells.saturating_pow(axes);
        let cells_factor = factor("limit.cells", cells, 100, format!("{} limit cells per axis", count(cells)), true);
        kept.push(Need::words(grid.saturating_mul(k.saturating_add(8)), vec![cells_factor, record.clone()]));
    }
    if let Some(ldp) = &spec.ldp {
        let resamples = factor(
            "ldp.resamples",
            ldp.resamples as u128,
            1000,
            format!("{} resamples", count(ldp.resamples as u128)),
            true,
        );
        // (Λ̂, I) per resample and k; each resample, on its own thread, picks and copies the replicas' values.
        let k_points = ldp.points as u128;
        kept.push(Need::words((ldp.resamples as u128).saturating_mul(k_points).saturating_mul(2), vec![resamples]));
        kept.push(Need::words(threads.saturating_mul(r).saturating_mul(4), vec![replicas.clone()]));
    }

    // A replica while it steps: its network (parameters and batch scratch), the stepper's copies, its
    // held-out sample and its data streams.
    let (batch, batch_factor) = match &spec.dynamics {
        DynamicsSpec::OnlineSgd { .. } => (1, None),
        DynamicsSpec::MinibatchSgd { batch, .. } | DynamicsSpec::NoisySgd { batch, .. } => {
            // The B of this point's width; `worst_points` left out the points whose rule gives none.
            let b = batch.at_width(width).unwrap_or(1) as u128;
            (b, Some(factor("dynamics.batch", b, 100, format!("a batch of {}", count(b)), false)))
        }
        DynamicsSpec::FullBatchGd { .. } => match &data.rows {
            Some((rows, rows_factor)) => (*rows, Some(rows_factor.clone())),
            None => (1, None),
        },
        DynamicsSpec::GradientFlow { .. } => (1, None),
    };
    let chunk = batch.max(CHUNK);
    // Gradient flow's integrator holds seven stages, a trial state and a second network for its objective.
    let copies = if matches!(spec.dynamics, DynamicsSpec::GradientFlow { .. }) { 12 } else { 3 };
    let mut per_replica = vec![Need::words(params.saturating_mul(copies), model_factors())];
    let scratch = chunk.saturating_mul(hidden.saturating_mul(3).saturating_add(d.saturating_mul(2)).saturating_add(9));
    per_replica.push(Need::words(scratch, batch_factor.into_iter().chain(model_factors()).collect()));
    let samples = spec
        .observables
        .iter()
        .filter_map(|o| match o {
            ObservableSpec::Risk { samples } => Some(*samples as u128),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    if samples > 0 {
        let held_out = factor("observables.samples", samples, 10_000, format!("{} risk samples", count(samples)), true);
        per_replica.push(Need::words(samples.saturating_mul(d.saturating_add(3)), vec![held_out, data.dim_factor]));
    }
    if let Some(f) = features {
        per_replica.push(Need::words(f.saturating_mul(f.saturating_add(2)), vec![features_factor(f)]));
    }
    // A data stream and a held-out stream per replica.
    per_replica.extend(data.per_stream.into_iter().map(|n| n.times(2, None)));
    let per_replica_bytes = per_replica.iter().fold(0u128, |s, n| s.saturating_add(n.bytes));
    let records_bytes = k.saturating_mul(record_bytes);

    let at_once = r.min(threads.saturating_mul(LANES));
    let mut working: Vec<Need> = per_replica.into_iter().map(|n| n.times(at_once, None)).collect();
    if let Some(LdpSpec { method: LdpMethod::Cloning { clones, populations }, .. }) = &spec.ldp {
        let n = *clones as u128;
        let clones_factor = factor("ldp.method.clones", n, 1000, format!("{} clones", count(n)), true);
        // Each clone of a population steps with its own records and a copy of its state.
        let per_clone = per_replica_bytes.saturating_add(records_bytes).saturating_add(params.saturating_mul(WORD * 2));
        let populations = (*populations as u128).min(threads).max(1);
        working.push(Need::bytes(n.saturating_mul(per_clone).saturating_mul(populations), vec![clones_factor]));
    }
    working.extend(largest_set);
    PointNeeds { kept, working }
}
