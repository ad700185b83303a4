//! The checks of a scenario's values, field by field ([`validate`]), and the expansion of its sweep into
//! points ([`sweep`]). What needs the built data law (the observables against a data file's dimension)
//! is checked again when the points are resolved (`crate::checked`).

pub(crate) mod dynamics;
mod limit;
mod output;
mod snapshot;
mod sweep;

pub use sweep::{Point, expand};

use crate::spec::*;
use meanfield_core::Statistic;
use meanfield_dynamics::Function;
use meanfield_models::BuiltinActivation;

/// A value that is out of range: the dotted path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

pub(crate) fn invalid(path: &str, message: impl Into<String>) -> Invalid {
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

/// A value as a scenario writes it (RON), for messages: `SlicedW2(directions: 8)`, not Rust's Debug form.
pub(crate) fn as_written(value: &impl serde::Serialize) -> String {
    let config = ron::ser::PrettyConfig::new().compact_structs(true).compact_arrays(true).new_line("");
    ron::ser::to_string_pretty(value, config).unwrap_or_else(|_| "this value".to_owned())
}

fn at_most(path: &str, v: usize, most: usize) -> Result<(), Invalid> {
    if v <= most { Ok(()) } else { Err(invalid(path, format!("must be at most {most}, got {v}"))) }
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
                TeacherSpec::Linear { coefficients } => {
                    if coefficients.len() != *dim {
                        return Err(invalid(
                            &format!("{p}.teacher.coefficients"),
                            format!(
                                "Linear needs one coefficient per input coordinate ({dim}), got {}",
                                coefficients.len()
                            ),
                        ));
                    }
                    if !coefficients.iter().all(|c| c.is_finite()) {
                        return Err(invalid(
                            &format!("{p}.teacher.coefficients"),
                            "Linear coefficients must be finite",
                        ));
                    }
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
    output::check_outputs(spec)?;
    snapshot::check_snapshot(&spec.snapshot)?;
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
    let rule = dynamics::check_dynamics(spec)?;
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
        limit::check_limit(limit)?;
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
        // Upper bounds where more buys nothing but memory and time: a grid of k values finer than 10^4
        // points, 10^6 bootstrap resamples (their Monte Carlo error is far below the estimate's), 10^6
        // histogram bins or cloning populations.
        at_most("ldp.points", ldp.points, 10_000)?;
        at_most("ldp.resamples", ldp.resamples, 1_000_000)?;
        if let Some(bins) = ldp.direct_bins {
            at_most("ldp.direct_bins", bins, 1_000_000)?;
        }
        if let LdpMethod::Cloning { populations, .. } = ldp.method {
            at_most("ldp.method.populations", populations, 1_000_000)?;
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
    if let Some(particles) = &spec.outputs.particles
        && particles.replicas > spec.replicas
    {
        return Err(invalid(
            "outputs.particles.replicas",
            format!("{} is more than the run's {} replicas", particles.replicas, spec.replicas),
        ));
    }
    validate_observables(spec, None)
}

fn check_outputs(outputs: &crate::spec::OutputSpec) -> Result<(), Invalid> {
    if !outputs.csv && !outputs.plots.is_empty() {
        return Err(invalid(
            "outputs.plots",
            "plots are drawn from timeseries.csv: keep `csv: true` or set `plots: []`",
        ));
    }
    if let Some(particles) = &outputs.particles {
        at_least_one("outputs.particles.replicas", particles.replicas)?;
        if particles.times.is_empty() {
            return Err(invalid("outputs.particles.times", "needs at least one time"));
        }
        for t in &particles.times {
            non_negative("outputs.particles.times", *t)?;
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
    at_most("study.resamples", study.resamples(), 1_000_000)?;
    if study.resamples() < 100 {
        return Err(invalid("study.resamples", format!("must be at least 100, got {}", study.resamples())));
    }
    if let Some((_, within)) = study.convergence() {
        positive("study.converged_within", within)?;
    }
    match study {
        StudySpec::Lln { .. } if spec.limit.is_none() => {
            Err(invalid("study", "Lln measures the distance to the limit: give the scenario a `limit`"))
        }
        StudySpec::Lln { .. }
            if spec.limit.as_ref().is_some_and(|l| !l.distances().contains(&LimitDistanceSpec::W1)) =>
        {
            Err(invalid("limit.distances", "the Lln study fits the W1 distances: keep W1 in the list"))
        }
        StudySpec::Chaos { .. } if !spec.observables.iter().any(|o| matches!(o, ObservableSpec::Tagged { .. })) => {
            Err(invalid("study", "Chaos needs a Tagged observable (two tagged particles)"))
        }
        _ => Ok(()),
    }
}

/// The parameters of a test function: NaN or infinite ones would give a NaN or constant column.
fn check_function(path: &str, function: Function) -> Result<(), Invalid> {
    let finite = |name: &str, v: f64| {
        if v.is_finite() { Ok(()) } else { Err(invalid(path, format!("{name} needs a finite parameter, got {v}"))) }
    };
    match function {
        Function::Identity | Function::Abs | Function::Tanh => Ok(()),
        Function::Power(p) => finite("Power", p),
        Function::Sin(f) => finite("Sin", f),
        Function::Cos(f) => finite("Cos", f),
        Function::Exp(rate) => finite("Exp", rate),
        // An infinite end is a half-line (1[A >= low]); an empty or NaN interval would be 0 everywhere.
        Function::Indicator(low, high) if low < high => Ok(()),
        Function::Indicator(low, high) => {
            Err(invalid(path, format!("Indicator(low, high) needs low < high, got Indicator({low}, {high})")))
        }
    }
}

/// Checks the observables against the model's blocks (called again once a data file's dimension is known).
pub(crate) fn validate_observables(spec: &ScenarioSpec, dim: Option<usize>) -> Result<(), Invalid> {
    // An Embedding limit records the risk and the distances itself.
    if spec.observables.is_empty() && !matches!(spec.limit, Some(LimitSpec::Embedding { .. })) {
        return Err(invalid("observables", "is empty: nothing would be recorded"));
    }
    // These write fixed column names: a second one would write the same columns again.
    for (name, is) in [
        ("Risk", (|o| matches!(o, ObservableSpec::Risk { .. })) as fn(&ObservableSpec) -> bool),
        ("PopulationRisk", |o| matches!(o, ObservableSpec::PopulationRisk(_))),
        ("Predictions", |o| matches!(o, ObservableSpec::Predictions { .. })),
    ] {
        if spec.observables.iter().filter(|o| is(o)).count() > 1 {
            return Err(invalid(
                "observables",
                format!("{name} is given twice: both would write the same columns of timeseries.csv"),
            ));
        }
    }
    let blocks = model_blocks(spec, dim);
    for obs in &spec.observables {
        match obs {
            ObservableSpec::Risk { samples } => at_least_one("observables.samples", *samples)?,
            ObservableSpec::PopulationRisk(population) => {
                crate::checked::population::check_population(spec, *population, "observables")?
            }
            ObservableSpec::Predictions { at } => crate::checked::population::check_prediction_points(at, dim)?,
            ObservableSpec::Moments | ObservableSpec::Variances => {}
            ObservableSpec::Histogram { of, bins, range } => {
                at_least_one("observables.bins", *bins)?;
                check_statistic("observables.of", of, &blocks)?;
                // The bin width (high − low)/bins must be a finite positive number too: ±1.7e308 are
                // finite but their difference is not, and every bin index would be NaN.
                let width = (range.1 - range.0) / *bins as f64;
                if !(range.0.is_finite()
                    && range.1.is_finite()
                    && range.0 < range.1
                    && width.is_finite()
                    && width > 0.0)
                {
                    return Err(invalid(
                        "observables.range",
                        format!("needs finite low < high with a finite difference, got {range:?}"),
                    ));
                }
            }
            ObservableSpec::Averages(functions) => {
                for f in functions {
                    check_statistic("observables.of", &f.of, &blocks)?;
                    check_function("observables.apply", f.apply)?;
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
