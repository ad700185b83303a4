//! The studies' fits against closed-form truths.

use super::*;
use meanfield_core::{Coordinate, CoordinateValue, PointInfo, Record, ReplicaResult};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

fn point(width: usize, values: &[f64]) -> PointResult {
    PointResult {
        info: PointInfo {
            index: 0,
            label: format!("width={width}"),
            coordinates: Vec::new(),
            width,
            seed: 1,
            replicas: values.len(),
            steps: 1,
            step_size: 1.0,
            time_per_step: 1.0,
            final_time: 1.0,
            model: String::new(),
            data: String::new(),
            dynamics: String::new(),
        },
        columns: vec!["x".into()],
        replicas: values
            .iter()
            .enumerate()
            .map(|(replica, v)| ReplicaResult {
                particles: Vec::new(),
                replica,
                records: vec![Record { step: 1, time: 1.0, values: vec![*v] }],
                divergence: None,
                log_weight: 0.0,
            })
            .collect(),
    }
}

/// Replicas x ~ N(0, 1/N): the mean of |x| is √(2/π)·N^(−½) exactly, and N·Var is 1. The fitted slopes
/// must be near −½ and 0 and their 95% intervals must cover them; over 40 seeds the −½ interval
/// misses in about 5% of them (binomial: at most 6 of 40 misses is a 2.3σ allowance), which checks
/// that the bootstrap interval has its stated coverage rather than being merely wide.
#[test]
fn slopes_and_intervals_cover_the_truth() {
    let widths = [64, 128, 256, 512, 1024];
    let mut misses = (0, 0);
    for seed in 0..40 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let points: Vec<PointResult> = widths
            .iter()
            .map(|&n| {
                let law = Normal::new(0.0, (1.0 / n as f64).sqrt()).expect("valid");
                point(n, &(0..64).map(|_| law.sample(&mut rng).abs()).collect::<Vec<_>>())
            })
            .collect();
        let study = Study {
            kind: "test".into(),
            quantities: vec![
                Quantity { statistic: Statistic::Mean("x".into()), expected_slope: -0.5 },
                Quantity { statistic: Statistic::ScaledVariance("x".into()), expected_slope: 0.0 },
            ],
            times: vec![1.0],
            resamples: 400,
            level: 0.95,
            convergence: None,
        };
        let summary = study.analyse(&points, seed).expect("analysable");
        for (k, fit) in summary.fits.iter().enumerate() {
            let (lo, hi) = fit.interval.expect("positive values");
            let slope = fit.slope.expect("a slope");
            assert!(lo <= slope && slope <= hi);
            assert!((slope - fit.expected_slope).abs() < 0.3, "{fit:?}");
            if !(lo..=hi).contains(&fit.expected_slope) {
                if k == 0 { misses.0 += 1 } else { misses.1 += 1 }
            }
        }
    }
    eprintln!("interval misses out of 40: {misses:?}");
    assert!(misses.0 <= 6 && misses.1 <= 6, "misses {misses:?}");
}

#[test]
fn errors_name_the_problem() {
    let study = Study {
        kind: "test".into(),
        quantities: vec![Quantity { statistic: Statistic::Mean("y".into()), expected_slope: -1.0 }],
        times: vec![1.0],
        resamples: 10,
        level: 0.95,
        convergence: None,
    };
    let err = study.analyse(&[point(4, &[1.0, 2.0]), point(8, &[1.0, 2.0])], 1).unwrap_err();
    assert!(err.to_string().contains("column 'y'") && err.to_string().contains("columns: x"), "{err}");
    let study =
        Study { quantities: vec![Quantity { statistic: Statistic::Mean("x".into()), expected_slope: -1.0 }], ..study };
    assert_eq!(study.analyse(&[point(4, &[1.0, 2.0])], 1).unwrap_err(), StudyError::TooFewWidths);
}

/// A point of width `width` with swept `coordinates`, whose replica r has `values(t)[r]` (one value per
/// column of `columns`) at each record time of `times`.
fn synthetic(
    width: usize,
    coordinates: Vec<Coordinate>,
    columns: &[&str],
    times: &[f64],
    values: impl Fn(f64) -> Vec<Vec<f64>>,
) -> PointResult {
    let mut p = point(width, &[]);
    p.info.label = meanfield_core::label(&coordinates);
    p.info.coordinates = coordinates;
    p.columns = columns.iter().map(|c| (*c).to_owned()).collect();
    let per_time: Vec<Vec<Vec<f64>>> = times.iter().map(|&t| values(t)).collect();
    let replicas = per_time[0].len();
    p.info.replicas = replicas;
    p.replicas = (0..replicas)
        .map(|replica| ReplicaResult {
            particles: Vec::new(),
            replica,
            records: times
                .iter()
                .zip(&per_time)
                .enumerate()
                .map(|(k, (&time, v))| Record { step: k as u64, time, values: v[replica].clone() })
                .collect(),
            divergence: None,
            log_weight: 0.0,
        })
        .collect();
    p
}

fn coordinate(path: &str, value: CoordinateValue) -> Coordinate {
    Coordinate { path: path.into(), value }
}

fn width(n: usize) -> Coordinate {
    coordinate("width", CoordinateValue::Whole(n as u64))
}

/// Replicas whose column `x` has SD exactly σ_x·N^(−1) in law, and three `yhat` columns with SDs
/// σ_j·N^(−1), σ = (1, 2, 3): the SD of x is N^(−1) and the rms SD of ŷ is √((1 + 4 + 9)/3)·N^(−1), both of
/// slope −1. With 64 replicas the log of a sample SD has a standard deviation of about 1/√(2·63) ≈ 0.089,
/// so over widths 16 … 256 (Σ(ln N − mean)² = 10·(ln 2)² ≈ 4.8) the slope's is 0.089/√4.8 ≈ 0.04: ±0.2 is
/// 5 of them, while a statistic that forgot the square root (a variance, slope −2) fails. The value at
/// each width must be within 40% of the truth: 4.5 of the sample SD's relative standard deviations (0.089),
/// so that none of the 400 values checked fails by chance (P ≈ 7e−6 each), while forgetting the square
/// root (σ²/N², 16 to 256 times too small) or the mean over the test points (the root of the sum, √3 times
/// too large) is far outside. Over 40 seeds the 95% intervals must miss −1 at most 6 times each
/// (binomial, 2.3σ above the 2 expected).
#[test]
fn fluctuations_at_scale_one_over_n_have_slope_minus_one() {
    let widths = [16, 32, 64, 128, 256];
    let sigma = [1.0, 2.0, 3.0];
    let yhat: Vec<String> = (0..3).map(|j| format!("{}{j})", meanfield_core::PREDICTION_COLUMN_PREFIX)).collect();
    let mut columns = vec!["x"];
    columns.extend(yhat.iter().map(String::as_str));
    let study = Study {
        kind: "test".into(),
        quantities: vec![
            Quantity { statistic: Statistic::StdDev("x".into()), expected_slope: -1.0 },
            Quantity { statistic: Statistic::RmsStdDev(yhat.clone()), expected_slope: -1.0 },
        ],
        times: vec![1.0],
        resamples: 400,
        level: 0.95,
        convergence: Some(Convergence { column: "x".into(), within: 0.02 }),
    };
    assert_eq!(study.quantities[1].statistic.label(), "rms sd yhat");
    let truth = |k: usize, n: usize| if k == 0 { 1.0 } else { (14.0f64 / 3.0).sqrt() } / n as f64;
    let mut misses = [0, 0];
    for seed in 0..40 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + seed);
        let points: Vec<PointResult> = widths
            .iter()
            .map(|&n| {
                // One draw per replica, recorded at every time: the mean of x does not move (converged).
                let draws: Vec<Vec<f64>> = (0..64)
                    .map(|_| {
                        let x = 5.0 + Normal::new(0.0, 1.0 / n as f64).expect("valid").sample(&mut rng);
                        let mut row = vec![x];
                        row.extend(
                            sigma.iter().map(|s| Normal::new(0.0, s / n as f64).expect("valid").sample(&mut rng)),
                        );
                        row
                    })
                    .collect();
                synthetic(n, vec![width(n)], &columns, &[0.5, 1.0], |_| draws.clone())
            })
            .collect();
        let summary = study.analyse(&points, seed).expect("analysable");
        assert!(summary.unconverged.is_empty(), "{:?}", summary.unconverged);
        for (k, fit) in summary.fits.iter().enumerate() {
            let slope = fit.slope.expect("a slope");
            let (lo, hi) = fit.interval.expect("an interval");
            assert!((slope + 1.0).abs() < 0.2, "{fit:?}");
            assert_eq!(fit.widths_fitted, widths);
            if !(lo..=hi).contains(&-1.0) {
                misses[k] += 1;
            }
        }
        for row in &summary.rows {
            let k = usize::from(row.quantity != "sd x");
            let expected = truth(k, row.width);
            assert!((row.value / expected - 1.0).abs() < 0.4, "{row:?}: truth {expected}");
        }
    }
    eprintln!("interval misses out of 40: {misses:?}");
    assert!(misses.iter().all(|&m| m <= 6), "misses {misses:?}");
}

/// The mean of `risk` is c/N at t = 10 and 1% higher at t = 5 for N = 8, 16, 32 (converged: a change of
/// 1/101 < 2%); at N = 64 it is 2c/64 and was 10% higher at t = 5 (still falling). The fit uses the three
/// converged widths, whose values lie exactly on slope −1, and lists N = 64 with its change 0.1/1.1; fitted,
/// N = 64 would pull the slope to about −0.6, which the same study without the criterion shows.
#[test]
fn an_unconverged_width_is_listed_and_left_out_of_the_fit() {
    let c = 3.0;
    let points: Vec<PointResult> = [8, 16, 32, 64]
        .iter()
        .map(|&n| {
            let end = if n == 64 { 2.0 * c / n as f64 } else { c / n as f64 };
            let half = if n == 64 { end * 1.1 } else { end * 1.01 };
            synthetic(n, vec![width(n)], &["risk"], &[0.0, 5.0, 10.0], |t| {
                let m = if t < 7.5 { half } else { end };
                // Two replicas at m(1 ± 0.1): their mean is m.
                vec![vec![m * 0.9], vec![m * 1.1]]
            })
        })
        .collect();
    let study = Study {
        kind: "error_scaling".into(),
        quantities: vec![Quantity { statistic: Statistic::Mean("risk".into()), expected_slope: -1.0 }],
        times: vec![10.0],
        resamples: 200,
        level: 0.95,
        convergence: Some(Convergence { column: "risk".into(), within: 0.02 }),
    };
    let summary = study.analyse(&points, 1).expect("analysable");
    let fit = &summary.fits[0];
    assert_eq!(fit.widths_fitted, [8, 16, 32]);
    assert!((fit.slope.expect("a slope") + 1.0).abs() < 1e-12, "{fit:?}");
    assert_eq!(summary.converged_within, Some(0.02));
    let [unconverged] = &summary.unconverged[..] else { panic!("one unconverged point: {:?}", summary.unconverged) };
    assert_eq!((unconverged.width, unconverged.label.as_str(), unconverged.time), (64, "width=64", 10.0));
    assert!((unconverged.change - 0.1 / 1.1).abs() < 1e-12, "{unconverged:?}");
    let flags: Vec<bool> = summary.rows.iter().map(|r| r.converged).collect();
    assert_eq!(flags, [true, true, true, false], "every width is shown, N = 64 as not converged");

    let blind = Study { convergence: None, ..study.clone() }.analyse(&points, 1).expect("analysable");
    let slope = blind.fits[0].slope.expect("a slope");
    assert!(slope > -0.8, "fitting the unconverged width moves the slope: {slope}");

    // With one converged width of two there is no slope, and the fit says why.
    let summary = study.analyse(&points[2..], 1).expect("analysable");
    assert_eq!(summary.fits[0].slope, None);
    assert_eq!(summary.fits[0].note.as_deref(), Some("1 of 2 widths converged: a slope needs two"));
}

/// Points swept over widths, a batch exponent and seeds: one fit per exponent, labelled by it, pooling the
/// seeds. Values are exact: mean c·N^(−1) for exponent 0 and c·N^(−½) for exponent 1.
#[test]
fn groups_of_the_sweep_give_separate_fits_with_their_labels() {
    let mut points = Vec::new();
    for &n in &[8, 32, 128] {
        for e in [0.0, 1.0] {
            for seed in [1, 2] {
                let coordinates = vec![
                    width(n),
                    coordinate("dynamics.batch.exponent", CoordinateValue::Real(e)),
                    coordinate("seed", CoordinateValue::Whole(seed)),
                ];
                let m = 2.0 * (n as f64).powf(if e == 0.0 { -1.0 } else { -0.5 });
                points.push(synthetic(n, coordinates, &["risk"], &[1.0], |_| vec![vec![m * 0.5], vec![m * 1.5]]));
            }
        }
    }
    let study = Study {
        kind: "error_scaling".into(),
        quantities: vec![Quantity { statistic: Statistic::Mean("risk".into()), expected_slope: -1.0 }],
        times: vec![1.0],
        resamples: 200,
        level: 0.95,
        convergence: Some(Convergence { column: "risk".into(), within: 0.02 }),
    };
    let summary = study.analyse(&points, 1).expect("analysable");
    let fits: Vec<(&str, f64)> = summary.fits.iter().map(|f| (f.group.as_str(), f.slope.expect("a slope"))).collect();
    assert_eq!(fits.len(), 2, "{fits:?}");
    assert_eq!(fits[0].0, "dynamics.batch.exponent=0");
    assert_eq!(fits[1].0, "dynamics.batch.exponent=1");
    assert!((fits[0].1 + 1.0).abs() < 1e-12 && (fits[1].1 + 0.5).abs() < 1e-12, "{fits:?}");
    let rows: Vec<(&str, usize, usize)> =
        summary.rows.iter().map(|r| (r.group.as_str(), r.width, r.replicas)).collect();
    assert_eq!(
        rows[..3],
        [
            ("dynamics.batch.exponent=0", 8, 4),
            ("dynamics.batch.exponent=0", 32, 4),
            ("dynamics.batch.exponent=0", 128, 4)
        ]
    );
    // Without other swept coordinates the group is empty, as before groups.
    let plain: Vec<PointResult> = points
        .iter()
        .filter(|p| p.info.label.contains("exponent=0"))
        .map(|p| PointResult {
            info: PointInfo {
                coordinates: vec![p.info.coordinates[0].clone(), p.info.coordinates[2].clone()],
                ..p.info.clone()
            },
            ..p.clone()
        })
        .collect();
    let summary = study.analyse(&plain, 1).expect("analysable");
    assert_eq!(summary.fits.iter().map(|f| f.group.as_str()).collect::<Vec<_>>(), [""]);
}
