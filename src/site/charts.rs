//! The geometry of the statistics page's charts: value axes with a "nice" maximum and
//! ticks, small multiples of monthly columns (one panel per MCO) and horizontal bars in
//! groups. Pure functions of counts. The SVG frame a reader meets first (`role`,
//! `<title>`, `<desc>`, patterns) is written by Tera templates
//! (`templates/partials/statistics/`); the marks inside it by [`draw`], from what
//! these return.
//!
//! Why plain SVG of our own and no charting library: the accessible markup (`role`,
//! `<title>`, `<desc>`, labels beside every bar) stays under our control, nothing
//! depends on fonts or a raster backend, and the output is stable to the byte for
//! snapshots and diffs. The price is that text is never measured: label areas are
//! fixed widths, and the labels are kept short to fit them.
//!
//! Every coordinate is in SVG user units (pixels at full size), rounded to one decimal.

mod draw;

use serde::Serialize;

pub use draw::{PLAIN, Paint};

/// The width of every chart.
pub const WIDTH: f64 = 720.0;

/// Small multiples: panels side by side, at most this many in a row.
const PANELS_PER_ROW: usize = 2;
/// Space between two panels, across and down.
const PANEL_GAP: f64 = 32.0;
/// Room on the left of a panel for its tick labels.
const PANEL_GUTTER: f64 = 34.0;
/// Room above a panel's plot for its label.
const PANEL_TITLE: f64 = 24.0;
/// The height of a panel's plot.
const PANEL_PLOT: f64 = 84.0;
/// Room below a panel's plot for the column labels.
const PANEL_FOOT: f64 = 18.0;
/// The share of a column's slot its bar fills.
const COLUMN_FILL: f64 = 0.7;

/// Horizontal bars: the height of a bar's row, and of its bar.
const BAR_ROW: f64 = 22.0;
const BAR_HEIGHT: f64 = 16.0;
/// Room for a group's label above its bars, and between two groups.
const GROUP_TITLE: f64 = 22.0;
const GROUP_GAP: f64 = 10.0;
/// Between the label area and the plot; room right of the plot for the value labels.
const LABEL_GAP: f64 = 10.0;
const VALUE_ROOM: f64 = 56.0;
/// Room below the plot for the axis labels.
const AXIS_FOOT: f64 = 24.0;

/// A value axis from zero to a round maximum that holds the largest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Axis {
    /// The top of the scale: a multiple of [`Axis::step`], at least one step.
    pub max: u64,
    /// Between two ticks: 1, 2 or 5 times a power of ten.
    pub step: u64,
}

impl Axis {
    /// The axis for counts up to `largest`: at most five steps, each 1, 2 or 5 × 10ⁿ,
    /// so the ticks are numbers people read at a glance. No counts (`0`) gives 0 to 1.
    pub fn nice(largest: u64) -> Axis {
        const MOST_STEPS: u64 = 5;
        let mut power = 1u64;
        let step = loop {
            if let Some(step) = [1, 2, 5]
                .iter()
                .map(|factor| factor * power)
                .find(|step| step.saturating_mul(MOST_STEPS) >= largest)
            {
                break step;
            }
            power = power.saturating_mul(10);
        };
        Axis {
            max: largest.div_ceil(step).max(1).saturating_mul(step),
            step,
        }
    }

    /// Every tick from zero to the maximum.
    pub fn ticks(&self) -> Vec<u64> {
        (0..=self.max / self.step).map(|n| n * self.step).collect()
    }

    /// The length of `value` on an axis drawn `length` long.
    pub fn scale(&self, value: u64, length: f64) -> f64 {
        round(value.min(self.max) as f64 / self.max as f64 * length)
    }
}

/// One tick of an axis: its value, where its grid line is drawn (x across, y down)
/// and where its label is (the same x across, the label's baseline down).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub value: u64,
    pub at: f64,
    pub label_at: f64,
}

/// One series of the small multiples: a label and a value per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub values: Vec<u64>,
}

/// Small multiples on one shared scale: a panel of columns per series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panels {
    pub width: f64,
    pub height: f64,
    pub axis: Axis,
    /// Drawn by [`draw`]; the templates need only the sizes and the axis.
    #[serde(skip_serializing)]
    pub panels: Vec<Panel>,
    /// The largest value of all (0: nothing to show).
    pub largest: u64,
}

/// One series' panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub label: String,
    /// The plot's left and right edges, top, width and height.
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub plot_width: f64,
    pub plot_height: f64,
    /// The panel's own left edge, where its label starts, and the label's baseline.
    pub outer_left: f64,
    pub label_y: f64,
    /// Where the tick labels end (they are drawn right-aligned).
    pub tick_x: f64,
    /// Horizontal grid lines with their values, `at` the y of each.
    pub ticks: Vec<Tick>,
    pub columns: Vec<Column>,
    /// The baseline's y, and the y of the column labels below it.
    pub bottom: f64,
    pub foot_y: f64,
}

/// One column of a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub label: String,
    pub value: u64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The middle of the column, where its label is drawn.
    pub center: f64,
}

/// Lays out one panel per series, [`PANELS_PER_ROW`] to a row, every panel on the
/// same scale; `column_labels` are drawn under the columns (one per value).
pub fn panels(series: &[Series], column_labels: &[String]) -> Panels {
    let largest = series
        .iter()
        .flat_map(|one| one.values.iter().copied())
        .max()
        .unwrap_or(0);
    let axis = Axis::nice(largest);
    let per_row = series.len().clamp(1, PANELS_PER_ROW);
    let outer_width = (WIDTH - PANEL_GAP * (per_row - 1) as f64) / per_row as f64;
    let outer_height = PANEL_TITLE + PANEL_PLOT + PANEL_FOOT;
    let panels: Vec<Panel> = series
        .iter()
        .enumerate()
        .map(|(index, one)| {
            let left = (index % per_row) as f64 * (outer_width + PANEL_GAP) + PANEL_GUTTER;
            let outer_top = (index / per_row) as f64 * (outer_height + PANEL_GAP);
            panel(
                one,
                column_labels,
                &axis,
                left,
                outer_top,
                outer_width - PANEL_GUTTER,
            )
        })
        .collect();
    let rows = series.len().div_ceil(per_row);
    let height = if rows == 0 {
        0.0
    } else {
        rows as f64 * outer_height + (rows - 1) as f64 * PANEL_GAP
    };
    Panels {
        width: WIDTH,
        height: round(height),
        axis,
        panels,
        largest,
    }
}

fn panel(
    series: &Series,
    column_labels: &[String],
    axis: &Axis,
    left: f64,
    outer_top: f64,
    plot_width: f64,
) -> Panel {
    let top = outer_top + PANEL_TITLE;
    let bottom = top + PANEL_PLOT;
    let slot = plot_width / series.values.len().max(1) as f64;
    let width = slot * COLUMN_FILL;
    let columns = series
        .values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let height = axis.scale(value, PANEL_PLOT);
            let start = left + index as f64 * slot;
            Column {
                label: column_labels.get(index).cloned().unwrap_or_default(),
                value,
                x: round(start + (slot - width) / 2.0),
                y: round(bottom - height),
                width: round(width),
                height,
                center: round(start + slot / 2.0),
            }
        })
        .collect();
    Panel {
        label: series.label.clone(),
        left: round(left),
        right: round(left + plot_width),
        top: round(top),
        plot_width: round(plot_width),
        plot_height: PANEL_PLOT,
        outer_left: round(left - PANEL_GUTTER),
        label_y: round(outer_top + PANEL_TITLE - 8.0),
        tick_x: round(left - 6.0),
        ticks: axis
            .ticks()
            .into_iter()
            .map(|value| {
                let at = round(bottom - axis.scale(value, PANEL_PLOT));
                Tick {
                    value,
                    at,
                    label_at: round(at + 4.0),
                }
            })
            .collect(),
        columns,
        bottom: round(bottom),
        foot_y: round(bottom + PANEL_FOOT - 4.0),
    }
}

/// One bar to draw: its label, its value and its kind (which fill, 0 for the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub label: String,
    pub value: u64,
    pub kind: usize,
}

/// Bars under one label (or none, for a chart of plain bars).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: Option<String>,
    pub items: Vec<Item>,
}

/// Horizontal bars on one scale, in groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bars {
    pub width: f64,
    pub height: f64,
    pub axis: Axis,
    /// The plot's left edge (bars start there, labels end just before it), right
    /// edge, width, top and bottom.
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_width: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    /// Where the bars' labels end (they are drawn right-aligned).
    pub label_right: f64,
    /// Vertical grid lines with their values, `at` the x of each; their labels at
    /// `axis_label_y`.
    #[serde(skip_serializing)]
    pub ticks: Vec<Tick>,
    pub axis_label_y: f64,
    /// Drawn by [`draw`]; the templates need only the sizes and the axis.
    #[serde(skip_serializing)]
    pub groups: Vec<BarGroup>,
    /// The largest value of all (0: nothing to show).
    pub largest: u64,
}

/// A group's label and its bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarGroup {
    pub label: Option<String>,
    /// The baseline of the group's label.
    pub label_y: f64,
    pub bars: Vec<Bar>,
}

/// One bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub kind: usize,
    pub y: f64,
    pub height: f64,
    pub width: f64,
    /// The baseline of the bar's label and of its value, which is drawn at
    /// `value_x`, just after the bar's end.
    pub text_y: f64,
    pub value_x: f64,
}

/// Lays out horizontal bars in groups, every bar on one scale; `label_width` is the
/// room on the left for the bars' labels.
pub fn bars(groups: &[Group], label_width: f64) -> Bars {
    let largest = groups
        .iter()
        .flat_map(|group| group.items.iter().map(|item| item.value))
        .max()
        .unwrap_or(0);
    let axis = Axis::nice(largest);
    let plot_left = label_width + LABEL_GAP;
    let plot_width = WIDTH - plot_left - VALUE_ROOM;
    let mut y = 0.0;
    let mut laid_out = Vec::with_capacity(groups.len());
    for (index, group) in groups.iter().enumerate() {
        if index > 0 {
            y += GROUP_GAP;
        }
        let label_y = y + GROUP_TITLE - 6.0;
        if group.label.is_some() {
            y += GROUP_TITLE;
        }
        let bars = group
            .items
            .iter()
            .map(|item| {
                let width = axis.scale(item.value, plot_width);
                let bar = Bar {
                    label: item.label.clone(),
                    value: item.value,
                    kind: item.kind,
                    y: round(y + (BAR_ROW - BAR_HEIGHT) / 2.0),
                    height: BAR_HEIGHT,
                    width,
                    text_y: round(y + BAR_ROW / 2.0 + 4.5),
                    value_x: round(plot_left + width + 6.0),
                };
                y += BAR_ROW;
                bar
            })
            .collect();
        laid_out.push(BarGroup {
            label: group.label.clone(),
            label_y: round(label_y),
            bars,
        });
    }
    let plot_bottom = y;
    Bars {
        width: WIDTH,
        height: round(plot_bottom + AXIS_FOOT),
        plot_left: round(plot_left),
        plot_right: round(plot_left + plot_width),
        plot_width: round(plot_width),
        plot_top: 0.0,
        plot_bottom: round(plot_bottom),
        label_right: round(label_width),
        ticks: axis
            .ticks()
            .into_iter()
            .map(|value| {
                let at = round(plot_left + axis.scale(value, plot_width));
                Tick {
                    value,
                    at,
                    label_at: at,
                }
            })
            .collect(),
        axis_label_y: round(plot_bottom + AXIS_FOOT - 6.0),
        axis,
        groups: laid_out,
        largest,
    }
}

/// To one decimal: coordinates that read well and stay the same from run to run.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn months(count: usize) -> Vec<String> {
        (1..=count).map(|month| format!("M{month}")).collect()
    }

    fn series(label: &str, values: &[u64]) -> Series {
        Series {
            label: label.to_owned(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn a_nice_axis_holds_the_largest_value_in_round_steps() {
        let cases = [
            (0, 1, 1),
            (1, 1, 1),
            (3, 3, 1),
            (5, 5, 1),
            (6, 6, 2),
            (7, 8, 2),
            (10, 10, 2),
            (11, 15, 5),
            (38, 40, 10),
            (101, 150, 50),
            (432, 500, 100),
            (999, 1000, 200),
            (1234, 1500, 500),
        ];
        for (largest, max, step) in cases {
            let axis = Axis::nice(largest);
            assert_eq!((axis.max, axis.step), (max, step), "largest {largest}");
            assert!(axis.max >= largest);
            let ticks = axis.ticks();
            assert_eq!(ticks.first(), Some(&0));
            assert_eq!(ticks.last(), Some(&axis.max));
            assert!(ticks.len() <= 6, "{ticks:?}");
        }
        // Even the largest count gets an axis, not an overflow.
        assert!(Axis::nice(u64::MAX).max >= u64::MAX / 2);
    }

    #[test]
    fn the_scale_is_proportional_and_capped() {
        let axis = Axis::nice(8);
        assert_eq!(axis.scale(0, 100.0), 0.0);
        assert_eq!(axis.scale(2, 100.0), 25.0);
        assert_eq!(axis.scale(8, 100.0), 100.0);
        assert_eq!(axis.scale(1, 30.0), 3.8);
        assert_eq!(axis.scale(80, 100.0), 100.0);
    }

    #[test]
    fn twelve_months_for_seven_series_share_one_scale() {
        let all: Vec<Series> = (0..7u64)
            .map(|n| {
                series(
                    &format!("MCO {n}"),
                    &(0..12).map(|m| m * n).collect::<Vec<_>>(),
                )
            })
            .collect();
        let chart = panels(&all, &months(12));
        assert_eq!(chart.largest, 66);
        assert_eq!(chart.axis, Axis { max: 80, step: 20 });
        assert_eq!(chart.panels.len(), 7);
        // Two to a row: four rows.
        let tops: Vec<f64> = chart.panels.iter().map(|panel| panel.top).collect();
        assert_eq!(tops[0], tops[1]);
        assert!(tops[2] > tops[1] && tops[4] > tops[2] && tops[6] > tops[4]);
        assert!(chart.panels[1].left > chart.panels[0].left + chart.panels[0].plot_width);
        let last = &chart.panels[6];
        assert!(
            last.foot_y <= chart.height,
            "{} > {}",
            last.foot_y,
            chart.height
        );
        for panel in &chart.panels {
            assert_eq!(panel.columns.len(), 12);
            assert!(panel.left + panel.plot_width <= WIDTH + 0.1);
            assert_eq!(panel.ticks.len(), 5);
            assert_eq!(panel.ticks[0].at, panel.bottom);
            assert_eq!(panel.ticks[4].at, panel.top);
            for pair in panel.columns.windows(2) {
                assert!(pair[0].x + pair[0].width < pair[1].x, "columns overlap");
            }
            for column in &panel.columns {
                assert_eq!(column.y + column.height, panel.bottom);
                assert!(column.x >= panel.left);
                assert!(column.x + column.width <= panel.left + panel.plot_width + 0.1);
            }
        }
        // The same value is the same height in every panel.
        let six_in_first = &chart.panels[6].columns[1]; // 1 × 6
        let six_in_other = &chart.panels[3].columns[2]; // 2 × 3
        assert_eq!(six_in_first.value, 6);
        assert_eq!(six_in_other.value, 6);
        assert_eq!(six_in_first.height, six_in_other.height);
        assert_eq!(chart.panels[6].columns[11].height, PANEL_PLOT * 66.0 / 80.0);
        assert_eq!(chart.panels[2].columns[3].label, "M4");
    }

    #[test]
    fn one_series_takes_the_whole_width() {
        let chart = panels(&[series("Molina", &[1, 0, 3])], &months(3));
        let [panel] = chart.panels.as_slice() else {
            panic!("one panel")
        };
        assert_eq!(panel.left + panel.plot_width, WIDTH);
        assert_eq!(chart.height, PANEL_TITLE + PANEL_PLOT + PANEL_FOOT);
        assert_eq!(chart.axis.max, 3);
        assert_eq!(panel.columns[2].height, PANEL_PLOT);
        assert_eq!(panel.columns[1].height, 0.0);
    }

    #[test]
    fn no_data_draws_empty_axes_and_nothing_at_all_draws_nothing() {
        let chart = panels(&[series("A", &[0; 12]), series("B", &[0; 12])], &months(12));
        assert_eq!(chart.largest, 0);
        assert_eq!(chart.axis.max, 1);
        assert!(
            chart
                .panels
                .iter()
                .flat_map(|panel| &panel.columns)
                .all(|column| column.height == 0.0)
        );
        let none = panels(&[], &[]);
        assert!(none.panels.is_empty());
        assert_eq!(none.height, 0.0);
        let no_months = panels(&[series("A", &[])], &[]);
        assert!(no_months.panels[0].columns.is_empty());

        let bars_chart = bars(&[], 100.0);
        assert!(bars_chart.groups.is_empty());
        assert_eq!(bars_chart.height, AXIS_FOOT);
        assert_eq!(bars_chart.axis.max, 1);
    }

    fn item(label: &str, value: u64, kind: usize) -> Item {
        Item {
            label: label.to_owned(),
            value,
            kind,
        }
    }

    #[test]
    fn plain_bars_stack_down_from_the_top_on_one_scale() {
        let chart = bars(
            &[Group {
                label: None,
                items: vec![item("a", 10, 0), item("b", 0, 0), item("c", 4, 0)],
            }],
            200.0,
        );
        assert_eq!(chart.axis, Axis { max: 10, step: 2 });
        assert_eq!(chart.plot_left, 210.0);
        assert_eq!(chart.plot_width, WIDTH - 210.0 - VALUE_ROOM);
        let [group] = chart.groups.as_slice() else {
            panic!("one group")
        };
        let widths: Vec<f64> = group.bars.iter().map(|bar| bar.width).collect();
        assert_eq!(widths, [chart.plot_width, 0.0, 181.6]);
        let ys: Vec<f64> = group.bars.iter().map(|bar| bar.y).collect();
        assert_eq!(ys, [3.0, 25.0, 47.0]);
        assert_eq!(chart.plot_bottom, 3.0 * BAR_ROW);
        assert_eq!(chart.height, 3.0 * BAR_ROW + AXIS_FOOT);
        assert_eq!(group.bars[0].value_x, 210.0 + chart.plot_width + 6.0);
        assert!(group.bars[0].value_x + VALUE_ROOM - 6.0 <= WIDTH + 0.1);
        let ticks: Vec<(u64, f64)> = chart
            .ticks
            .iter()
            .map(|tick| (tick.value, tick.at))
            .collect();
        assert_eq!(ticks.len(), 6);
        assert_eq!(ticks[0], (0, 210.0));
        assert_eq!(ticks[1], (2, round(210.0 + chart.plot_width / 5.0)));
        assert_eq!(ticks[5], (10, 210.0 + chart.plot_width));
    }

    #[test]
    fn grouped_bars_leave_room_for_each_groups_label() {
        let groups: Vec<Group> = ["One", "Two"]
            .iter()
            .map(|label| Group {
                label: Some((*label).to_owned()),
                items: vec![
                    item("On time", 3, 0),
                    item("Late", 1, 1),
                    item("Overdue", 2, 2),
                ],
            })
            .collect();
        let chart = bars(&groups, 100.0);
        assert_eq!(chart.groups.len(), 2);
        let first = &chart.groups[0];
        let second = &chart.groups[1];
        assert!(first.label_y < first.bars[0].y);
        assert!(first.bars[2].y + BAR_HEIGHT < second.label_y - 10.0);
        assert!(second.label_y < second.bars[0].y);
        assert_eq!(
            chart.plot_bottom,
            2.0 * (GROUP_TITLE + 3.0 * BAR_ROW) + GROUP_GAP
        );
        let kinds: Vec<usize> = second.bars.iter().map(|bar| bar.kind).collect();
        assert_eq!(kinds, [0, 1, 2]);
        assert_eq!(chart.axis.max, 3);
        assert_eq!(second.bars[0].width, chart.plot_width);
        assert_eq!(second.bars[1].width, round(chart.plot_width / 3.0));
    }
}
