//! A line chart of a report as SVG, written by hand: one line per category (its kinds
//! summed) over the days, a point only where some instance showed the cell.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::export::Report;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const MARGIN: f64 = 48.0;
/// Room right of the plot for the categories' names.
const LEGEND: f64 = 140.0;
/// Line colours, reused past the tenth category.
const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

impl Report {
    /// The chart of the report.
    pub fn svg(&self) -> String {
        let days: BTreeSet<_> = self.cells.iter().map(|c| c.day).collect();
        let days: Vec<_> = days.into_iter().collect();
        let mut lines: BTreeMap<&str, BTreeMap<usize, i64>> = BTreeMap::new();
        for c in &self.cells {
            let x = days.binary_search(&c.day).expect("every day is listed");
            let line = lines.entry(&c.category).or_default();
            if let Some(n) = c.devices {
                *line.entry(x).or_default() += n;
            }
        }
        let top = lines
            .values()
            .flat_map(|l| l.values().copied())
            .max()
            .unwrap_or(0)
            .max(1);
        let span = (days.len().max(2) - 1) as f64;
        let x = |i: usize| MARGIN + (WIDTH - MARGIN - LEGEND) * i as f64 / span;
        let y = |n: i64| HEIGHT - MARGIN - (HEIGHT - 2.0 * MARGIN) * n.max(0) as f64 / top as f64;
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">
<title>{}</title>
<line x1="{MARGIN}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/>
<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{b}" stroke="black"/>
<text x="4" y="{MARGIN}">{top}</text>
<text x="4" y="{b}">0</text>
"#,
            escape(&format!(
                "Devices with a blocked lookup per category and day ({} instances, ε per day ≤ {})",
                self.instances.len(),
                self.epsilon_per_day
                    .map_or_else(|| "none: exact".to_owned(), |e| format!("{e:.3}"))
            )),
            b = HEIGHT - MARGIN,
            r = WIDTH - LEGEND,
        );
        for (i, day) in days.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{day}</text>"#,
                x(i),
                HEIGHT - MARGIN + 16.0
            );
        }
        for (n, (category, points)) in lines.iter().enumerate() {
            let colour = COLOURS[n % COLOURS.len()];
            let path: Vec<String> = points
                .iter()
                .map(|(&i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
                WIDTH - LEGEND + 8.0,
                MARGIN + 14.0 * n as f64,
                escape(category)
            );
        }
        svg + "</svg>\n"
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
