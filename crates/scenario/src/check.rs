//! Checked parameters: validation of values and expansion of sweeps into points.

use crate::spec::*;
use meanfield_core::Statistic;
use meanfield_models::BuiltinActivation;
use serde_json::Value;

/// A value that is out of range: the dotted path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

fn invalid(path: &str, message: impl Into<String>) -> Invalid {
    Invalid { path: path.to_owned(), message: message.into() }
}

fn positive(path: &str, v: f64) -> Result<(), Invalid> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err(invalid(path, format!("must be positive, got {v}"))) }
}

fn non_negative(path: &str, v: f64) -> Result<(), Invalid> {
    if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(invalid(path, format!("must be zero or positive, got {v}"))) }
}

fn at_least_one(path: &str, v: usize) -> Result<(), Invalid> {
    if v >= 1 { Ok(()) } else { Err(invalid(path, "must be at least 1, got 0")) }
}

fn check_activation(path: &str, act: &ActivationSpec) -> Result<(), Invalid> {
    if let ActivationSpec::Plugin { lib, name, .. } = act {
        return check_plugin_ref(path, lib, name);
    }
    if let Some(BuiltinActivation::Ramp { t1, t2, s1, s2 }) = act.builtin() {
        if t1.partial_cmp(&t2) != Some(std::cmp::Ordering::Less) {
            return Err(invalid(path, format!("Ramp needs t1 < t2, got t1 = {t1}, t2 = {t2}")));
        }
        if ![s1, s2, t1, t2].iter().all(|v| v.is_finite()) {
            return Err(invalid(path, "Ramp parameters must be finite"));
        }
    }
    Ok(())
}

/// The library and component names of a plugin are not empty (whether they exist is known only once
/// the library is loaded, when the scenario's components are built).
fn check_plugin_ref(path: &str, lib: &str, name: &str) -> Result<(), Invalid> {
    if lib.trim().is_empty() {
        return Err(invalid(&format!("{path}.lib"), "is empty: give the plugin library's name or path"));
    }
    if name.trim().is_empty() {
        return Err(invalid(&format!("{path}.name"), "is empty: give the name of a component of the plugin"));
    }
    Ok(())
}

fn check_init(path: &str, init: &InitSpec) -> Result<(), Invalid> {
    match *init {
        InitSpec::Gaussian { mean, std, tilt, .. } => {
            if !mean.is_finite() {
                return Err(invalid(&format!("{path}.mean"), format!("must be finite, got {mean}")));
            }
            if !tilt.is_finite() {
                return Err(invalid(&format!("{path}.tilt"), format!("must be finite, got {tilt}")));
            }
            if tilt != 0.0 && !path.starts_with("model.") {
                return Err(invalid(&format!("{path}.tilt"), "only the model's initial laws can be tilted"));
            }
            if tilt != 0.0 { positive(&format!("{path}.std"), std) } else { non_negative(&format!("{path}.std"), std) }
        }
        InitSpec::Uniform { low, high } => {
            if low.is_finite() && high.is_finite() && low < high {
                Ok(())
            } else {
                Err(invalid(path, format!("Uniform needs finite low < high, got low = {low}, high = {high}")))
            }
        }
        InitSpec::Constant(v) if v.is_finite() => Ok(()),
        InitSpec::Constant(v) => Err(invalid(path, format!("must be finite, got {v}"))),
    }
}

/// The block names a model has, with the number of entries per particle.
/// `dim` is the input dimension when known (a data file's is known only once it is read).
pub(crate) fn model_blocks(spec: &ScenarioSpec, dim: Option<usize>) -> Vec<(&'static str, usize)> {
    let d = dim.or_else(|| data_dim(&spec.data)).unwrap_or(usize::MAX);
    match &spec.model {
        ModelSpec::OneHidden { b, .. } => {
            let mut blocks = vec![("c", 1), ("w", d)];
            if *b != BlockSpec::Absent {
                blocks.push(("b", 1));
            }
            blocks
        }
        ModelSpec::TwoHidden { width1, .. } => vec![("w", d), ("u", *width1), ("c", 1)],
        ModelSpec::KernelParticles { .. } => vec![("c", 1), ("z", d)],
    }
}

/// The number of particles (rows) of a block.
fn block_rows(model: &ModelSpec, block: &str) -> usize {
    match model {
        ModelSpec::OneHidden { width, .. } | ModelSpec::KernelParticles { width, .. } => *width,
        ModelSpec::TwoHidden { width1, width2, .. } => {
            if block == "w" {
                *width1
            } else {
                *width2
            }
        }
    }
}

/// The input dimension, when it is known without reading a file.
pub(crate) fn data_dim(data: &DataSpec) -> Option<usize> {
    match data {
        DataSpec::TeacherStudent { dim, .. } | DataSpec::IsotropicGaussians { dim, .. } => Some(*dim),
        DataSpec::Sample { from, .. } => data_dim(from),
        DataSpec::Dataset { .. } | DataSpec::Plugin { .. } => None,
    }
}

fn check_statistic(path: &str, stat: &Statistic, blocks: &[(&str, usize)]) -> Result<(), Invalid> {
    let known = || blocks.iter().map(|(n, _)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let Some((_, cols)) = blocks.iter().find(|(n, _)| *n == stat.block()) else {
        return Err(invalid(path, format!("unknown block \"{}\"; the model has {}", stat.block(), known())));
    };
    if let Statistic::Coordinate(block, index) = stat
        && index >= cols
    {
        return Err(invalid(path, format!("coordinate {index} of block \"{block}\" does not exist (it has {cols})")));
    }
    Ok(())
}

/// Checks a data law; `p` is its dotted path (`data`, or `data.from` inside a `Sample`).
fn check_data(p: &str, data: &DataSpec) -> Result<(), Invalid> {
    match data {
        DataSpec::TeacherStudent { dim, teacher, noise, inputs } => {
            at_least_one(&format!("{p}.dim"), *dim)?;
            non_negative(&format!("{p}.noise"), *noise)?;
            if let InputsSpec::Uniform { low, high } = *inputs
                && !(low.is_finite() && high.is_finite() && low < high)
            {
                return Err(invalid(
                    &format!("{p}.inputs"),
                    format!("Uniform needs finite low < high, got {low}, {high}"),
                ));
            }
            match teacher {
                TeacherSpec::Network { width, activation, a, w } => {
                    at_least_one(&format!("{p}.teacher.width"), *width)?;
                    check_activation(&format!("{p}.teacher.activation"), activation)?;
                    check_init(&format!("{p}.teacher.a"), a)?;
                    check_init(&format!("{p}.teacher.w"), w)?;
                }
                TeacherSpec::SingleIndex { link, w } => {
                    check_activation(&format!("{p}.teacher.link"), link)?;
                    check_init(&format!("{p}.teacher.w"), w)?;
                }
                TeacherSpec::ThreeSpin => {
                    if *dim > 200 {
                        return Err(invalid(
                            &format!("{p}.dim"),
                            format!("ThreeSpin stores d³ couplings; d = {dim} is too large (at most 200)"),
                        ));
                    }
                }
                TeacherSpec::Mixture { centres, variances, weights } => {
                    if *dim != 1 {
                        return Err(invalid(
                            &format!("{p}.dim"),
                            format!("the Mixture teacher needs dim: 1, got {dim}"),
                        ));
                    }
                    if centres.is_empty() || centres.len() != variances.len() || centres.len() != weights.len() {
                        return Err(invalid(
                            &format!("{p}.teacher"),
                            format!(
                                "Mixture needs as many centres, variances and weights (at least one), got {}, {}, {}",
                                centres.len(),
                                variances.len(),
                                weights.len()
                            ),
                        ));
                    }
                    for v in variances {
                        positive(&format!("{p}.teacher.variances"), *v)?;
                    }
                    if !centres.iter().chain(weights).all(|v| v.is_finite()) {
                        return Err(invalid(&format!("{p}.teacher"), "Mixture centres and weights must be finite"));
                    }
                }
            }
        }
        DataSpec::IsotropicGaussians { dim, delta } => {
            at_least_one(&format!("{p}.dim"), *dim)?;
            if !(0.0..1.0).contains(delta) {
                return Err(invalid(&format!("{p}.delta"), format!("must lie in [0, 1), got {delta}")));
            }
        }
        DataSpec::Dataset { path, test_fraction, .. } => {
            if path.is_empty() {
                return Err(invalid(&format!("{p}.path"), "is empty"));
            }
            if !(0.0..1.0).contains(test_fraction) {
                return Err(invalid(&format!("{p}.test_fraction"), format!("must lie in [0, 1), got {test_fraction}")));
            }
        }
        DataSpec::Plugin { lib, name, .. } => check_plugin_ref(p, lib, name)?,
        DataSpec::Sample { size, from, .. } => {
            at_least_one(&format!("{p}.size"), *size)?;
            check_data(&format!("{p}.from"), from)?;
        }
    }
    Ok(())
}

/// Checks every value of one (sweep-resolved) scenario.
pub fn validate(spec: &ScenarioSpec) -> Result<(), Invalid> {
    at_least_one("replicas", spec.replicas)?;
    let blocks = match &spec.model {
        ModelSpec::OneHidden { width, activation, c, w, b, .. } => {
            at_least_one("model.width", *width)?;
            check_activation("model.activation", activation)?;
            vec![("c", c), ("w", w), ("b", b)]
        }
        ModelSpec::TwoHidden { width1, width2, activation1, activation2, w, u, c } => {
            at_least_one("model.width1", *width1)?;
            at_least_one("model.width2", *width2)?;
            check_activation("model.activation1", activation1)?;
            check_activation("model.activation2", activation2)?;
            vec![("w", w), ("u", u), ("c", c)]
        }
        ModelSpec::KernelParticles { width, kernel, c, z } => {
            at_least_one("model.width", *width)?;
            if let KernelSpec::Gaussian { bandwidth } = kernel {
                positive("model.kernel.bandwidth", *bandwidth)?;
            }
            vec![("c", c), ("z", z)]
        }
    };
    for (name, block) in blocks {
        let path = format!("model.{name}");
        match block {
            BlockSpec::Trained(init) | BlockSpec::Frozen(init) => {
                check_init(&path, init)?;
                if matches!(init, InitSpec::Gaussian { tilt, .. } if *tilt != 0.0) {
                    check_tilted(spec, &path)?;
                }
            }
            BlockSpec::Absent if name != "b" => {
                return Err(invalid(&path, "only the bias b may be Absent; use Frozen(Constant(1.0)) to fix a block"));
            }
            BlockSpec::Absent => {}
        }
    }
    check_data("data", &spec.data)?;
    let (rule, batch) = match &spec.dynamics {
        DynamicsSpec::OnlineSgd { step } => (*step, 1),
        DynamicsSpec::FullBatchGd { step } => {
            let finite = match &spec.data {
                DataSpec::Dataset { sampling, .. } | DataSpec::Sample { sampling, .. } => Some(*sampling),
                _ => None,
            };
            match finite {
                None => {
                    return Err(invalid(
                        "dynamics",
                        "FullBatchGd needs finite data: a Dataset or a Sample(size:, from:)",
                    ));
                }
                Some(SamplingSpec::WithReplacement) => {
                    return Err(invalid(
                        "data.sampling",
                        "FullBatchGd visits every row once per step: use sampling: Epochs",
                    ));
                }
                Some(SamplingSpec::Epochs) => (*step, 1),
            }
        }
        DynamicsSpec::MinibatchSgd { step, batch } => (*step, *batch),
        DynamicsSpec::NoisySgd { step, batch, weight_decay, temperature } => {
            non_negative("dynamics.weight_decay", *weight_decay)?;
            non_negative("dynamics.temperature", *temperature)?;
            (*step, *batch)
        }
    };
    positive("dynamics.step", rule.value())?;
    at_least_one("dynamics.batch", batch)?;
    let steps = match spec.horizon {
        Horizon::Time(t) => {
            positive("horizon", t)?;
            (t / rule.time_per_step(spec.model.step_width())).round()
        }
        Horizon::Steps(n) => n as f64,
    };
    if !(1.0..=1e13).contains(&steps) {
        return Err(invalid("horizon", format!("gives {steps} steps; it must give between 1 and 1e13")));
    }
    match spec.record {
        RecordSpec::Every(dt) => positive("record", dt)?,
        RecordSpec::LogSpaced(n) if n < 2 => {
            return Err(invalid("record", format!("LogSpaced needs at least 2 times, got {n}")));
        }
        RecordSpec::LogSpaced(_) => {}
    }
    if let Some(limit) = &spec.limit {
        check_limit(limit)?;
    }
    if let Some(study) = &spec.study {
        check_study(spec, study)?;
    }
    if let Some(ldp) = &spec.ldp {
        non_negative("ldp.time", ldp.time)?;
        if let Some(from) = ldp.average_from
            && !(from.is_finite() && from >= 0.0 && from < ldp.time)
        {
            return Err(invalid("ldp.average_from", format!("needs 0 ≤ average_from < time, got {from}")));
        }
        if !(ldp.k.0.is_finite() && ldp.k.1.is_finite() && ldp.k.0 < ldp.k.1) {
            return Err(invalid("ldp.k", format!("needs low < high, got {:?}", ldp.k)));
        }
        if ldp.points < 2 {
            return Err(invalid("ldp.points", format!("must be at least 2, got {}", ldp.points)));
        }
        if ldp.resamples < 100 {
            return Err(invalid("ldp.resamples", format!("must be at least 100, got {}", ldp.resamples)));
        }
        if let Some(bins) = ldp.direct_bins {
            at_least_one("ldp.direct_bins", bins)?;
            if ldp.method != LdpMethod::Replicas {
                return Err(invalid("ldp.direct_bins", "the direct estimator needs the replicas, not cloning"));
            }
        }
        if let LdpMethod::Cloning { clones, populations } = ldp.method {
            if clones < 2 {
                return Err(invalid(
                    "ldp.method.clones",
                    format!("must be at least 2 (hundreds in practice), got {clones}"),
                ));
            }
            at_least_one("ldp.method.populations", populations)?;
        } else if spec.replicas < 2 {
            return Err(invalid("replicas", "an ldp estimate needs at least 2 replicas (thousands in practice)"));
        }
    }
    check_outputs(&spec.outputs)?;
    validate_observables(spec, None)
}

fn check_outputs(outputs: &crate::spec::OutputSpec) -> Result<(), Invalid> {
    if !outputs.csv && !outputs.plots.is_empty() {
        return Err(invalid(
            "outputs.plots",
            "plots are drawn from timeseries.csv: keep `csv: true` or set `plots: []`",
        ));
    }
    if let Some(snapshots) = &outputs.snapshots {
        at_least_one("outputs.snapshots.replicas", snapshots.replicas)?;
        if snapshots.times.is_empty() {
            return Err(invalid("outputs.snapshots.times", "needs at least one time"));
        }
        for t in &snapshots.times {
            non_negative("outputs.snapshots.times", *t)?;
        }
    }
    if let Some(seconds) = outputs.checkpoint_seconds {
        positive("outputs.checkpoint_seconds", seconds)?;
    }
    Ok(())
}

/// A tilted initial law is an importance-sampling proposal: only the `ldp` estimates undo it (with the
/// replicas' likelihood ratios); every other result would silently describe the proposal instead of μ0.
fn check_tilted(spec: &ScenarioSpec, path: &str) -> Result<(), Invalid> {
    let path = format!("{path}.tilt");
    if spec.ldp.is_none() {
        return Err(invalid(&path, "tilting is importance sampling for the ldp estimates: add an ldp section"));
    }
    if spec.ensemble != EnsembleSpec::Annealed {
        return Err(invalid(&path, "tilting needs the Annealed ensemble (each replica draws its own weights)"));
    }
    if spec.study.is_some() || spec.limit.is_some() {
        return Err(invalid(&path, "a study or limit would measure the tilted law, not μ0: run them without tilt"));
    }
    Ok(())
}

/// A study's times and what it needs from the rest of the scenario.
fn check_study(spec: &ScenarioSpec, study: &StudySpec) -> Result<(), Invalid> {
    if study.times().is_empty() {
        return Err(invalid("study.times", "is empty: give the times at which to compare widths"));
    }
    for &t in study.times() {
        non_negative("study.times", t)?;
    }
    if spec.sweep.width.as_ref().is_none_or(|w| w.len() < 2) {
        return Err(invalid(
            "sweep.width",
            "a study compares widths: give at least two, e.g. `sweep: (width: [64, 256])`",
        ));
    }
    if study.resamples() < 100 {
        return Err(invalid("study.resamples", format!("must be at least 100, got {}", study.resamples())));
    }
    match study {
        StudySpec::Lln { .. } if spec.limit.is_none() => {
            Err(invalid("study", "Lln measures the distance to the limit: give the scenario a `limit`"))
        }
        StudySpec::Chaos { .. } if !spec.observables.iter().any(|o| matches!(o, ObservableSpec::Tagged { .. })) => {
            Err(invalid("study", "Chaos needs a Tagged observable (two tagged particles)"))
        }
        _ => Ok(()),
    }
}

/// The values of a `limit` section (whether it fits the model and data is checked when it is built).
fn check_limit(limit: &LimitSpec) -> Result<(), Invalid> {
    let range = |path: &str, (low, high): (f64, f64)| {
        if low.is_finite() && high.is_finite() && low < high {
            Ok(())
        } else {
            Err(invalid(path, format!("needs low < high, got ({low}, {high})")))
        }
    };
    let cells = match *limit {
        LimitSpec::Grid { cells, w, c } => {
            range("limit.w", w)?;
            if let Some(c) = c {
                range("limit.c", c)?;
            }
            cells
        }
        LimitSpec::Radial { cells, max } => {
            positive("limit.max", max)?;
            cells
        }
    };
    if !(8..=4096).contains(&cells) {
        return Err(invalid("limit.cells", format!("must be between 8 and 4096, got {cells}")));
    }
    Ok(())
}

/// Checks the observables against the model's blocks (called again once a data file's dimension is known).
pub(crate) fn validate_observables(spec: &ScenarioSpec, dim: Option<usize>) -> Result<(), Invalid> {
    if spec.observables.is_empty() {
        return Err(invalid("observables", "is empty: nothing would be recorded"));
    }
    let blocks = model_blocks(spec, dim);
    for obs in &spec.observables {
        match obs {
            ObservableSpec::Risk { samples } => at_least_one("observables.samples", *samples)?,
            ObservableSpec::Moments | ObservableSpec::Variances => {}
            ObservableSpec::Histogram { of, bins, range } => {
                at_least_one("observables.bins", *bins)?;
                check_statistic("observables.of", of, &blocks)?;
                if !(range.0.is_finite() && range.1.is_finite() && range.0 < range.1) {
                    return Err(invalid("observables.range", format!("needs low < high, got {range:?}")));
                }
            }
            ObservableSpec::Averages(functions) => {
                for f in functions {
                    check_statistic("observables.of", &f.of, &blocks)?;
                }
            }
            ObservableSpec::LayerDependence { features, bandwidths } => {
                if !matches!(spec.model, ModelSpec::TwoHidden { .. }) {
                    return Err(invalid(
                        "observables",
                        "LayerDependence compares the particles of two hidden layers and needs model TwoHidden",
                    ));
                }
                at_least_one("observables.features", *features)?;
                if !(bandwidths.0 > 0.0 && bandwidths.1 > 0.0 && bandwidths.0.is_finite() && bandwidths.1.is_finite()) {
                    return Err(invalid(
                        "observables.bandwidths",
                        format!("must be positive and finite, got {bandwidths:?}"),
                    ));
                }
            }
            ObservableSpec::Tagged { of, particles: (i, j) } => {
                check_statistic("observables.of", of, &blocks)?;
                let rows = block_rows(&spec.model, of.block());
                if i == j || *i >= rows || *j >= rows {
                    return Err(invalid(
                        "observables.particles",
                        format!(
                            "needs two different particles below {rows} (the rows of block \"{}\"), got ({i}, {j})",
                            of.block()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// One point of a sweep: the values that distinguish it (`label`, used to key its random streams), its
/// seed, and the scenario with the swept values filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub seed: u64,
    pub spec: ScenarioSpec,
}

/// A sweep that cannot be expanded: the path is within `sweep`.
fn sweep_error(path: &str, message: impl Into<String>) -> Invalid {
    invalid(&format!("sweep.{path}"), message)
}

/// Expands the sweep into points: width outermost, then the listed fields in order, seeds innermost.
pub fn expand(spec: &ScenarioSpec) -> Result<Vec<Point>, Invalid> {
    let sweep = &spec.sweep;
    if spec.study.is_some() && sweep.width.as_ref().is_none_or(|w| w.len() < 2) {
        return Err(sweep_error(
            "width",
            "a study compares widths: give at least two, e.g. `sweep: (width: [64, 256])`",
        ));
    }
    let mut axes: Vec<(String, Vec<f64>)> = Vec::new();
    if let Some(widths) = &sweep.width {
        if widths.is_empty() {
            return Err(sweep_error("width", "is empty: list at least one width"));
        }
        axes.push(("model.width".into(), widths.iter().map(|w| *w as f64).collect()));
    }
    for (path, values) in &sweep.fields {
        if values.is_empty() {
            return Err(sweep_error("fields", format!("'{path}' has no values")));
        }
        axes.push((path.clone(), values.clone()));
    }
    if sweep.seeds.as_ref().is_some_and(Vec::is_empty) {
        return Err(sweep_error("seeds", "is empty: list at least one seed"));
    }

    let base = serde_json::to_value(spec).map_err(|e| sweep_error("fields", e.to_string()))?;
    let mut combos: Vec<Vec<f64>> = vec![Vec::new()];
    for (_, values) in &axes {
        combos = combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![*v]].concat())).collect();
    }
    let mut points = Vec::new();
    for combo in combos {
        let mut value = base.clone();
        let mut label = Vec::new();
        for ((path, _), v) in axes.iter().zip(&combo) {
            if path == "model.width" {
                // A width sweep of the two-hidden-layer network sets both widths (N1 = N2 = N).
                let targets: &[&str] = match spec.model {
                    ModelSpec::OneHidden { .. } | ModelSpec::KernelParticles { .. } => &["model.width"],
                    ModelSpec::TwoHidden { .. } => &["model.width1", "model.width2"],
                };
                for target in targets {
                    set_path(&mut value, target, *v).map_err(|m| sweep_error("width", m))?;
                }
                label.push(format!("width={v}"));
            } else {
                set_path(&mut value, path, *v).map_err(|m| sweep_error("fields", m))?;
                label.push(format!("{path}={v}"));
            }
        }
        let resolved: ScenarioSpec = if axes.is_empty() {
            spec.clone()
        } else {
            serde_json::from_value(value).map_err(|e| sweep_error("fields", e.to_string()))?
        };
        // Without a seed list the point keeps its own seed (which a field sweep of `seed` may have set).
        let seeds = sweep.seeds.clone().unwrap_or_else(|| vec![resolved.seed]);
        for &seed in &seeds {
            points.push(Point { label: label.join(","), seed, spec: ScenarioSpec { seed, ..resolved.clone() } });
        }
    }
    Ok(points)
}

fn is_variant(key: &str) -> bool {
    key.chars().next().is_some_and(char::is_uppercase)
}

/// Sets the number at dotted `path`, looking through enum variants (`model.width` reaches the `width` of
/// `OneHidden`, `dynamics.step` the α of `PerNeuron(α)`).
fn set_path(root: &mut Value, path: &str, v: f64) -> Result<(), String> {
    let mut node = root;
    let mut walked = String::new();
    for segment in path.split('.') {
        node = through_variants(node, Some(segment));
        let Value::Object(map) = node else {
            if walked.ends_with("params") && node.is_string() {
                return Err(format!(
                    "'{path}': plugin parameters cannot be swept (they reach the plugin as text); \
                     write one scenario per value instead"
                ));
            }
            return Err(format!("'{path}': '{walked}' has no fields"));
        };
        if !map.contains_key(segment) {
            let known: Vec<_> = map.keys().cloned().collect();
            return Err(format!("'{path}': no field '{segment}' in '{walked}'; known: {}", known.join(", ")));
        }
        node = map.get_mut(segment).expect("checked above");
        walked = if walked.is_empty() { segment.to_owned() } else { format!("{walked}.{segment}") };
    }
    let node = through_variants(node, None);
    match node {
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            if v.fract() != 0.0 || v < 0.0 {
                return Err(format!("'{path}' takes whole numbers, got {v}"));
            }
            *node = Value::from(v as u64);
        }
        Value::Number(_) => *node = Value::from(v),
        other => return Err(format!("'{path}' is not a number (it is {other})")),
    }
    Ok(())
}

/// Descends through single-key objects whose key is a variant name (`{"OneHidden": {...}}`), unless the key
/// is the segment being looked for.
fn through_variants<'v>(mut node: &'v mut Value, segment: Option<&str>) -> &'v mut Value {
    loop {
        let descend = match &*node {
            Value::Object(map) if map.len() == 1 => {
                let key = map.keys().next().expect("one key");
                is_variant(key) && Some(key.as_str()) != segment
            }
            _ => false,
        };
        if !descend {
            return node;
        }
        node = node.as_object_mut().and_then(|m| m.values_mut().next()).expect("one key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meanfield_core::StepRule;

    fn spec(sweep: &str) -> ScenarioSpec {
        let text = format!(
            r#"Scenario(name: "t", seed: 5,
                model: OneHidden(width: 4, activation: Tanh, c: Trained(Constant(1.0)), w: Trained(Constant(0.0))),
                data: IsotropicGaussians(dim: 2, delta: 0.5),
                dynamics: OnlineSgd(step: PerNeuron(1.0)), horizon: Steps(1), sweep: {sweep})"#
        );
        crate::parse::parse(&text, "t").unwrap()
    }

    fn summary(points: &[Point]) -> Vec<(String, u64)> {
        points.iter().map(|p| (p.label.clone(), p.seed)).collect()
    }

    #[test]
    fn sweeps_expand_width_outermost_seeds_innermost() {
        let points = expand(&spec(r#"(width: [2, 8], seeds: [1, 2], fields: [("dynamics.step", [0.5])])"#)).unwrap();
        let expected = [
            ("width=2,dynamics.step=0.5", 1),
            ("width=2,dynamics.step=0.5", 2),
            ("width=8,dynamics.step=0.5", 1),
            ("width=8,dynamics.step=0.5", 2),
        ];
        assert_eq!(summary(&points), expected.map(|(l, s)| (l.to_owned(), s)));
        assert_eq!(points[2].spec.model.step_width(), 8);
        assert_eq!(points[0].spec.dynamics.step(), StepRule::PerNeuron(0.5));
    }

    #[test]
    fn fields_reach_into_variants_and_keep_integers_whole() {
        let points = expand(&spec(r#"(fields: [("model.w.Trained", [0.25]), ("seed", [7])])"#)).unwrap();
        let ModelSpec::OneHidden { w, .. } = &points[0].spec.model else { panic!("the spec is one-hidden") };
        assert_eq!(*w, BlockSpec::Trained(InitSpec::Constant(0.25)));
        assert_eq!(points[0].seed, 7, "a seed set by a field sweep is kept");
        let err = expand(&spec(r#"(fields: [("model.width", [2.5])])"#)).unwrap_err();
        assert_eq!(err.message, "'model.width' takes whole numbers, got 2.5");
        let err = expand(&spec(r#"(fields: [("model.activation", [1.0])])"#)).unwrap_err();
        assert!(err.message.starts_with("'model.activation' is not a number"), "{}", err.message);
    }
}
