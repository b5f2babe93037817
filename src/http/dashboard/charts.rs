//! Pictures drawn on the server as inline SVG (no script, no external asset): patches per day by
//! outcome over the last 30 days, and apply duration (p50 and p95) per day.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::html::esc;
use crate::http::app::App;
use crate::store::results::{Outcome, PatchResult};

pub(super) const DAYS: u64 = 30;
const W: f64 = 600.0;
const H: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 20.0;

/// Outcomes in stacking order, with their colours.
const OUTCOMES: [(Outcome, &str, &str); 5] = [
    (Outcome::Applied, "applied", "#2e9d4a"),
    (Outcome::AlreadyApplied, "already-applied", "#9bd3a8"),
    (Outcome::Refused, "refused", "#e0a100"),
    (Outcome::RolledBack, "rolled-back", "#e06c1f"),
    (Outcome::Error, "error", "#c62828"),
];

/// One finished patch: the day it finished, its outcome and how long it took.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub day: NaiveDate,
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// Every result that finished in the last [`DAYS`] days, across environments.
pub(super) fn runs(app: &App, now: DateTime<Utc>) -> Result<Vec<Run>> {
    let first = first_day(now);
    let mut out = Vec::new();
    for env in app.settings.config.env.keys() {
        let dir = app.home.results_dir(env);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
        };
        for entry in entries {
            let path = entry.with_context(|| format!("could not list {}", dir.display()))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A result being rewritten or corrupt is left out of a picture, not fatal to the page.
            let Ok(Some(r)) = crate::store::read_json::<PatchResult>(&path, "result") else { continue };
            let day = r.finished_at.date_naive();
            if day >= first {
                out.push(Run { day, outcome: r.outcome, duration_ms: r.duration_ms });
            }
        }
    }
    Ok(out)
}

fn first_day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive().checked_sub_days(Days::new(DAYS - 1)).unwrap_or(NaiveDate::MIN)
}

fn days(now: DateTime<Utc>) -> Vec<NaiveDate> {
    first_day(now).iter_days().take(DAYS as usize).collect()
}

fn frame(id: &str, title: &str, max_label: &str, days: &[NaiveDate]) -> String {
    let mut s = format!(
        "<svg id={id} viewBox=\"0 0 {W} {H}\" role=img aria-labelledby={id}-t xmlns=\"http://www.w3.org/2000/svg\">\
         <title id={id}-t>{}</title>",
        esc(title)
    );
    let base = H - BOTTOM;
    let _ = write!(
        s,
        "<line x1={LEFT} y1={base} x2={W} y2={base} stroke=#99a /><line x1={LEFT} y1=8 x2={LEFT} y2={base} stroke=#99a />\
         <text x={} y=14 font-size=11 text-anchor=end fill=#556>{}</text><text x={} y={base} font-size=11 text-anchor=end fill=#556>0</text>",
        LEFT - 4.0,
        esc(max_label),
        LEFT - 4.0
    );
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let y = H - 4.0;
        let _ = write!(
            s,
            "<text x={LEFT} y={y} font-size=11 fill=#556>{}</text><text x={W} y={y} font-size=11 text-anchor=end fill=#556>{}</text>",
            first.format("%b %d"),
            last.format("%b %d")
        );
    }
    s
}

/// Stacked bars: patches finished each day, by outcome.
pub(super) fn per_day(runs: &[Run], now: DateTime<Utc>) -> String {
    let days = days(now);
    let mut counts: BTreeMap<NaiveDate, [u32; 5]> = BTreeMap::new();
    for r in runs {
        let i = OUTCOMES.iter().position(|(o, ..)| *o == r.outcome).unwrap_or(4);
        counts.entry(r.day).or_default()[i] += 1;
    }
    let max = counts.values().map(|c| c.iter().sum::<u32>()).max().unwrap_or(0).max(1);
    let mut s = frame("chart-outcomes", "patches per day by outcome, last 30 days", &max.to_string(), &days);
    let slot = (W - LEFT) / days.len() as f64;
    let scale = (H - BOTTOM - 10.0) / f64::from(max);
    for (i, day) in days.iter().enumerate() {
        let Some(c) = counts.get(day) else { continue };
        let x = LEFT + slot * i as f64 + 1.0;
        let mut y = H - BOTTOM;
        for (k, (_, name, colour)) in OUTCOMES.iter().enumerate().filter(|(k, _)| c[*k] > 0) {
            let h = f64::from(c[k]) * scale;
            y -= h;
            let _ = write!(
                s,
                "<rect x={x:.1} y={y:.1} width={:.1} height={h:.1} fill=\"{colour}\"><title>{day} {name}: {}</title></rect>",
                slot - 2.0,
                c[k]
            );
        }
    }
    s.push_str("</svg>");
    let mut legend = String::from("<figcaption class=legend>");
    for (_, name, colour) in OUTCOMES {
        let _ = write!(legend, "<span><span style=\"color:{colour}\">■</span> {name}</span>");
    }
    legend.push_str("</figcaption>");
    format!("<figure>{s}{legend}</figure>")
}

/// The value at quantile `q` (nearest rank) of sorted values.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Two lines: the median and the 95th percentile of each day's apply durations.
pub(super) fn durations(runs: &[Run], now: DateTime<Utc>) -> String {
    let days = days(now);
    let mut by_day: BTreeMap<NaiveDate, Vec<u64>> = BTreeMap::new();
    for r in runs {
        by_day.entry(r.day).or_default().push(r.duration_ms);
    }
    let points: Vec<(usize, u64, u64)> = days
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let mut v = by_day.get(d)?.clone();
            v.sort_unstable();
            Some((i, quantile(&v, 0.5), quantile(&v, 0.95)))
        })
        .collect();
    let max = points.iter().map(|p| p.2).max().unwrap_or(0).max(1);
    let mut s = frame("chart-durations", "apply duration per day, p50 and p95", &format!("{max} ms"), &days);
    let slot = (W - LEFT) / days.len() as f64;
    let scale = (H - BOTTOM - 10.0) / max as f64;
    for (pick, colour, name) in [(1, "#1f6feb", "p50"), (2, "#c62828", "p95")] {
        let coords: Vec<String> = points
            .iter()
            .map(|p| {
                let v = if pick == 1 { p.1 } else { p.2 };
                format!("{:.1},{:.1}", LEFT + slot * (p.0 as f64 + 0.5), H - BOTTOM - v as f64 * scale)
            })
            .collect();
        if coords.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=none stroke=\"{colour}\" stroke-width=2><title>{name}</title></polyline>",
            coords.join(" ")
        );
        for c in &coords {
            let (x, y) = c.split_once(',').unwrap_or_default();
            let _ = write!(s, "<circle cx={x} cy={y} r=3 fill=\"{colour}\" />");
        }
    }
    s.push_str("</svg>");
    format!(
        "<figure>{s}<figcaption class=legend><span><span style=\"color:#1f6feb\">■</span> p50</span>\
         <span><span style=\"color:#c62828\">■</span> p95</span></figcaption></figure>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(day: &str, outcome: Outcome, ms: u64) -> Run {
        Run { day: day.parse().unwrap(), outcome, duration_ms: ms }
    }

    #[test]
    fn bars_stack_by_outcome_on_their_day() {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let runs = [
            run("2026-11-30", Outcome::Applied, 10),
            run("2026-11-30", Outcome::Applied, 10),
            run("2026-11-30", Outcome::Refused, 10),
            run("2026-11-01", Outcome::Error, 10),
        ];
        let svg = per_day(&runs, now);
        assert!(svg.contains("<title>2026-11-30 applied: 2</title>"), "{svg}");
        assert!(svg.contains("<title>2026-11-30 refused: 1</title>"), "{svg}");
        assert!(svg.contains("<title>2026-11-01 error: 1</title>"), "{svg}");
        assert!(svg.contains(">3</text>"), "the axis says the tallest day: {svg}");
        assert_eq!(svg.matches("<rect").count(), 3);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.95), 95);
        assert_eq!(quantile(&[7], 0.95), 7);
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let svg = durations(&[run("2026-11-30", Outcome::Applied, 40), run("2026-11-30", Outcome::Applied, 400)], now);
        assert!(svg.contains(">400 ms</text>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
