//! How a run shows its progress: bars on a terminal (overall and one per sweep point, with ETA), plain
//! log lines when stderr is not a terminal (CI logs, `nohup`), nothing with `--quiet`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use meanfield_scenario::Progress;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Points beyond this many get no bar of their own (the overall bar still counts them).
const MAX_POINT_BARS: usize = 12;
/// Plain lines: one per tenth of the run, and at least every this often.
const LINE_EVERY: Duration = Duration::from_secs(30);

/// A point as the display knows it.
#[derive(Debug, Clone)]
pub(crate) struct PointTotal {
    pub(crate) name: String,
    pub(crate) steps: u64,
    pub(crate) replicas: usize,
}

#[derive(Debug)]
pub(crate) enum Display {
    Quiet,
    Bars { multi: MultiProgress, overall: ProgressBar, points: Vec<Option<ProgressBar>> },
    Lines(Lines),
}

#[derive(Debug)]
pub(crate) struct Lines {
    total: u64,
    done: AtomicU64,
    points: Vec<PointTotal>,
    replicas_done: Vec<AtomicUsize>,
    started: Instant,
    /// When the last line was printed, and the tenth of the run it reported.
    last: Mutex<(Instant, u64)>,
}

impl Display {
    pub(crate) fn new(quiet: bool, terminal: bool, points: Vec<PointTotal>) -> anyhow::Result<Display> {
        let total: u64 = points.iter().map(|p| p.steps).sum();
        if quiet {
            return Ok(Display::Quiet);
        }
        if !terminal {
            let replicas_done = points.iter().map(|_| AtomicUsize::new(0)).collect();
            let now = Instant::now();
            return Ok(Display::Lines(Lines {
                total,
                done: AtomicU64::new(0),
                points,
                replicas_done,
                started: now,
                last: Mutex::new((now, 0)),
            }));
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total).with_style(ProgressStyle::with_template(
            "{prefix:>24} {bar:40} {percent:>3}% {human_pos}/{human_len} steps, eta {eta}",
        )?));
        overall.set_prefix("all points");
        let width = points.iter().map(|p| p.name.chars().count()).max().unwrap_or(0).clamp(8, 24);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:>{width}}} {{bar:40.cyan/blue}} {{percent:>3}}% eta {{eta}} {{msg}}"
        ))?;
        let bars = points.len() > 1 && points.len() <= MAX_POINT_BARS;
        let points = points
            .iter()
            .map(|p| {
                bars.then(|| {
                    let bar = multi.add(ProgressBar::new(p.steps).with_style(style.clone()));
                    bar.set_prefix(p.name.clone());
                    bar
                })
            })
            .collect();
        Ok(Display::Bars { multi, overall, points })
    }

    pub(crate) fn finish(&self) {
        if let Display::Bars { multi, overall, points } = self {
            for bar in points.iter().flatten() {
                bar.finish_and_clear();
            }
            overall.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

impl Progress for Display {
    fn advance(&self, point: usize, steps: u64) {
        match self {
            Display::Quiet => {}
            Display::Bars { overall, points, .. } => {
                overall.inc(steps);
                if let Some(Some(bar)) = points.get(point) {
                    bar.inc(steps);
                }
            }
            Display::Lines(lines) => lines.advance(steps),
        }
    }

    fn replica_done(&self, point: usize) {
        match self {
            Display::Bars { points, .. } => {
                if let Some(Some(bar)) = points.get(point)
                    && bar.position() >= bar.length().unwrap_or(0)
                {
                    bar.set_message("done");
                }
            }
            Display::Lines(lines) => lines.replica_done(point),
            Display::Quiet => {}
        }
    }
}

impl Lines {
    fn advance(&self, steps: u64) {
        let done = self.done.fetch_add(steps, Ordering::Relaxed) + steps;
        let tenth = (done * 10).checked_div(self.total).unwrap_or(10);
        let Ok(mut last) = self.last.lock() else { return };
        if tenth > last.1 || last.0.elapsed() >= LINE_EVERY {
            let elapsed = self.started.elapsed().as_secs_f64();
            let fraction = done as f64 / self.total.max(1) as f64;
            let eta = if fraction > 0.0 { elapsed * (1.0 - fraction) / fraction } else { f64::NAN };
            eprintln!(
                "progress: {:>3.0}% ({done} of {} steps) after {elapsed:.1} s, eta {eta:.0} s",
                100.0 * fraction,
                self.total
            );
            *last = (Instant::now(), tenth.max(last.1));
        }
    }

    fn replica_done(&self, point: usize) {
        let (Some(count), Some(info)) = (self.replicas_done.get(point), self.points.get(point)) else { return };
        if count.fetch_add(1, Ordering::Relaxed) + 1 == info.replicas {
            eprintln!("progress: point {} finished ({} replicas)", info.name, info.replicas);
        }
    }
}
