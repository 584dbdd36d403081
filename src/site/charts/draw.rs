//! The charts' marks — grid lines, ticks, columns, bars and their labels — as SVG
//! text. The templates keep what a reader meets first and HFS may want to word
//! (`<svg role="img">`, `<title>`, `<desc>`, the patterns) and place these marks inside
//! it with `| safe`: written here, a chart of 84 columns costs microseconds, where a
//! template loop over the same marks cost most of the page's render (the build's
//! benchmark, `benches/site.rs`, holds the statistics page under 10 % of the build).
//!
//! Every text drawn (an MCO's configured name, a month, a reason) is escaped.

use std::fmt::Write as _;

use super::{Bars, Panels};
use crate::site::markdown::escape;

/// The baseline and grid colours, as the site's stylesheet has them.
const INK: &str = "#1b1b1b";
const GRID: &str = "#c9cfd6";
/// The fill of a plain column or bar.
pub const PLAIN: Paint = Paint {
    fill: "#0b3d6b",
    stroke: None,
};

/// How the bars of one kind are painted: a fill (a colour or `url(#pattern)`) and an
/// optional outline colour.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub fill: &'static str,
    pub stroke: Option<&'static str>,
}

/// The colour of the grid line at `value`: the baseline in ink, the rest light.
fn grid(value: u64) -> &'static str {
    if value == 0 { INK } else { GRID }
}

impl Panels {
    /// Each panel's label, grid with its tick labels, and columns with their month
    /// labels, one `<g>` per panel.
    pub fn marks(&self) -> String {
        let mut svg = String::with_capacity(160 * 32 * self.panels.len());
        for panel in &self.panels {
            let _ = write!(
                svg,
                "\n<g>\n<text x=\"{}\" y=\"{}\" font-weight=\"700\">{}</text>",
                panel.outer_left,
                panel.label_y,
                escape(&panel.label)
            );
            for tick in &panel.ticks {
                let _ = write!(
                    svg,
                    "\n<line x1=\"{}\" x2=\"{}\" y1=\"{at}\" y2=\"{at}\" stroke=\"{}\" stroke-width=\"1\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
                    panel.left,
                    panel.right,
                    grid(tick.value),
                    panel.tick_x,
                    tick.label_at,
                    tick.value,
                    at = tick.at,
                );
            }
            for column in &panel.columns {
                let _ = write!(
                    svg,
                    "\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                    column.x,
                    column.y,
                    column.width,
                    column.height,
                    PLAIN.fill,
                    column.center,
                    panel.foot_y,
                    escape(&column.label)
                );
            }
            svg.push_str("\n</g>");
        }
        svg.push('\n');
        svg
    }
}

impl Bars {
    /// The grid with its value labels, then each group's label (when it has one) and
    /// its bars, each with its label on the left and its value after its end; a bar of
    /// kind `k` painted with `paints[k]` (the last paint for any kind beyond them).
    pub fn marks(&self, paints: &[Paint]) -> String {
        let bars: usize = self.groups.iter().map(|group| group.bars.len()).sum();
        let mut svg = String::with_capacity(300 * (bars + self.ticks.len() + 1));
        for tick in &self.ticks {
            let _ = write!(
                svg,
                "\n<line x1=\"{at}\" x2=\"{at}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                self.plot_top,
                self.plot_bottom,
                grid(tick.value),
                tick.label_at,
                self.axis_label_y,
                tick.value,
                at = tick.at,
            );
        }
        for group in &self.groups {
            if let Some(label) = &group.label {
                let _ = write!(
                    svg,
                    "\n<text x=\"0\" y=\"{}\" font-weight=\"700\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\">{}</text>",
                    group.label_y,
                    escape(label)
                );
            }
            for bar in &group.bars {
                let paint = paints
                    .get(bar.kind)
                    .or(paints.last())
                    .copied()
                    .unwrap_or(PLAIN);
                let outline = paint
                    .stroke
                    .map(|stroke| format!(" stroke=\"{stroke}\" stroke-width=\"1\""))
                    .unwrap_or_default();
                let _ = write!(
                    svg,
                    "\n<text x=\"{}\" y=\"{text_y}\" text-anchor=\"end\">{}</text>\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{outline}/>\n<text x=\"{}\" y=\"{text_y}\">{}</text>",
                    self.label_right,
                    escape(&bar.label),
                    self.plot_left,
                    bar.y,
                    bar.width,
                    bar.height,
                    paint.fill,
                    bar.value_x,
                    bar.value,
                    text_y = bar.text_y,
                );
            }
        }
        svg.push('\n');
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Group, Item, Series, bars, panels};
    use super::*;

    fn count(svg: &str, element: &str) -> usize {
        svg.matches(&format!("<{element} ")).count()
    }

    #[test]
    fn panels_draw_a_column_and_a_label_per_month_and_escape_names() {
        let series = vec![
            Series {
                label: "Aetna & Co <Illinois>".into(),
                values: vec![0, 2, 5],
            },
            Series {
                label: "Meridian".into(),
                values: vec![1, 0, 0],
            },
        ];
        let labels: Vec<String> = ["Jan", "Feb", "Mar"].map(String::from).to_vec();
        let chart = panels(&series, &labels);
        let svg = chart.marks();
        assert_eq!(svg.matches("<g>").count(), 2);
        assert_eq!(count(&svg, "rect"), 6);
        assert!(svg.contains("Aetna &amp; Co &lt;Illinois&gt;"), "{svg}");
        assert!(!svg.contains("<Illinois>"));
        let ticks: usize = chart.panels.iter().map(|panel| panel.ticks.len()).sum();
        assert_eq!(count(&svg, "line"), ticks);
        // One baseline per panel, in ink.
        assert_eq!(svg.matches(&format!("stroke=\"{INK}\"")).count(), 2);
    }

    #[test]
    fn bars_are_painted_by_kind_with_labels_and_values() {
        let item = |label: &str, value, kind| Item {
            label: label.into(),
            value,
            kind,
        };
        let groups = vec![Group {
            label: Some("Molina".into()),
            items: vec![
                item("On time", 7, 0),
                item("Late", 2, 1),
                item("Overdue", 1, 2),
            ],
        }];
        let chart = bars(&groups, 90.0);
        let late = Paint {
            fill: "url(#late)",
            stroke: Some("#8a4b08"),
        };
        let svg = chart.marks(&[PLAIN, late]);
        assert_eq!(count(&svg, "rect"), 3);
        assert!(svg.contains(">Molina</text>"));
        assert!(svg.contains(">On time</text>") && svg.contains(">7</text>"));
        // Kind 1 and, beyond the paints given, kind 2 take the late paint.
        assert_eq!(
            svg.matches("fill=\"url(#late)\" stroke=\"#8a4b08\"")
                .count(),
            2
        );
        assert_eq!(count(&svg, "line"), chart.ticks.len());
    }
}
