//! How particles move and what is measured while they do: the SGD family of update rules on any model, the
//! record schedule, the built-in observables, and the executor that runs every replica of every sweep point
//! in parallel (argmin's split: the stepper is the solver, the executor drives it, observables are the
//! observers).

pub mod executor;
pub mod flow;
pub mod observables;
pub mod schedule;
pub mod sgd;

pub use executor::{
    Ensemble, Initializer, Mismatch, PointPlan, Stopped, Timed, Unfinished, run_points, run_points_with,
    run_population, run_replica, run_replica_with, run_replicas_with, time_replicas,
};
pub use flow::{FlowSettings, GradientFlow, Objective, ObjectiveBuilder, TrainingSet};
pub use observables::{
    Averages, Evaluation, Function, Histogram, LayerDependence, Moments, POPULATION_RISK_COLUMN, PopulationRisk,
    Predictions, Risk, Tagged, TestFunction, Variances,
};
pub use schedule::Schedule;
pub use sgd::{ModelBuilder, Sgd};
