//! Bar charts drawn on the server as inline SVG: the geometry is worked out here, and
//! `templates/auditor/chart.html` only writes out the shapes, so every label is escaped by the template.
//! Each chart is an image with a title and a description (`role="img"`, `<title>`, `<desc>`,
//! `aria-label`) and the page shows the same numbers in a table beside it (WCAG 2.2 1.1.1). Series are
//! told apart by position, a legend and a stripe pattern as well as by colour (1.4.1); the colours are
//! GOV.UK's blue and green, each over 3:1 against white (1.4.11). No `style` attribute: the pages' CSP
//! forbids inline styles.

/// GOV.UK blue.
const BLUE: &str = "#1d70b8";
/// GOV.UK green.
const GREEN: &str = "#00703c";
/// GOV.UK mid grey, for axes and grid lines.
const GREY: &str = "#b1b4b6";
/// GOV.UK text black.
const BLACK: &str = "#0b0c0c";

/// A rectangle (a bar, a legend key).
#[derive(Debug, Clone, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// A colour, or `url(#…)` of the chart's stripe pattern.
    pub fill: String,
}

/// A line (an axis, a grid line).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// A text label.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
    pub text: String,
}

/// One chart, ready to write out.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Unique on the page: prefixes the ids of its title, description and pattern.
    pub id: String,
    pub title: String,
    pub description: String,
    pub width: f64,
    pub height: f64,
    pub rects: Vec<Rect>,
    pub lines: Vec<Line>,
    pub labels: Vec<Label>,
    /// The stripe pattern's colour, when a series uses it.
    pub stripes: Option<&'static str>,
    /// Axis and grid line colour, and text colour.
    pub grey: &'static str,
    pub black: &'static str,
}

/// A round number at or above `max` for the top of an axis (1, 2, 5 × 10ⁿ).
fn nice_top(max: u64) -> u64 {
    if max <= 1 {
        return 1;
    }
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let top = step.saturating_mul(m);
            if top >= max {
                return top;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn f(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A grouped vertical bar chart: one group per label (a day), one bar per series in each group.
/// `series` names the series with their values, each as long as `labels`. The plot is 640 wide
/// whatever the number of days (wider only past 106 days), so text keeps its size when it scales.
pub fn grouped_bars(id: &str, title: &str, description: &str, labels: &[String], series: &[(&str, Vec<u64>)]) -> Chart {
    let (left, right, top, bottom) = (48.0, 12.0, 40.0, 44.0);
    let group_w = (640.0 / labels.len().max(1) as f64).max(6.0);
    let width = left + right + group_w * labels.len().max(1) as f64;
    let plot_h = 220.0;
    let height = top + plot_h + bottom;
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0);
    let axis_top = nice_top(max);
    let mut chart = Chart {
        id: id.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        width: f(width),
        height,
        rects: Vec::new(),
        lines: Vec::new(),
        labels: Vec::new(),
        stripes: None,
        grey: GREY,
        black: BLACK,
    };
    // The value axis: 0, half (when a whole number), top, with grid lines above 0.
    let half = axis_top.is_multiple_of(2).then_some(axis_top / 2);
    for value in std::iter::once(0).chain(half).chain(std::iter::once(axis_top)) {
        let y = f(top + plot_h - plot_h * value as f64 / axis_top as f64);
        chart.lines.push(Line {
            x1: left,
            y1: y,
            x2: f(width - right),
            y2: y,
        });
        chart.labels.push(Label {
            x: left - 6.0,
            y: f(y + 4.0),
            anchor: "end",
            text: value.to_string(),
        });
    }
    let fills = [BLUE.to_string(), format!("url(#{id}-stripes)")];
    if series.len() > 1 {
        chart.stripes = Some(GREEN);
    }
    let gap = (group_w * 0.2).min(8.0);
    let bar_w = (group_w - gap) / series.len().max(1) as f64;
    let label_every = (labels.len() as f64 / 10.0).ceil().max(1.0) as usize;
    for (g, label) in labels.iter().enumerate() {
        let x0 = left + group_w * g as f64 + gap / 2.0;
        for (s, (_, values)) in series.iter().enumerate() {
            let value = values.get(g).copied().unwrap_or(0);
            let h = plot_h * value as f64 / axis_top as f64;
            chart.rects.push(Rect {
                x: f(x0 + bar_w * s as f64),
                y: f(top + plot_h - h),
                w: f(bar_w),
                h: f(h),
                fill: fills.get(s).cloned().unwrap_or_else(|| BLUE.to_string()),
            });
        }
        if g % label_every == 0 {
            chart.labels.push(Label {
                x: f(x0 + (group_w - gap) / 2.0),
                y: top + plot_h + 18.0,
                anchor: "middle",
                text: label.clone(),
            });
        }
    }
    // The legend, above the plot.
    let mut x = left;
    for (s, (name, _)) in series.iter().enumerate() {
        chart.rects.push(Rect {
            x,
            y: 10.0,
            w: 16.0,
            h: 16.0,
            fill: fills.get(s).cloned().unwrap_or_else(|| BLUE.to_string()),
        });
        chart.labels.push(Label {
            x: x + 22.0,
            y: 23.0,
            anchor: "start",
            text: name.to_string(),
        });
        x += 40.0 + 8.0 * name.chars().count() as f64;
    }
    chart
}

/// A horizontal bar chart: one bar per row, its label above it and its value at its end.
pub fn horizontal_bars(id: &str, title: &str, description: &str, rows: &[(String, u64)]) -> Chart {
    let (plot_w, value_w, row_h) = (600.0, 80.0, 48.0);
    let width = plot_w + value_w;
    let height = 8.0 + row_h * rows.len().max(1) as f64;
    let axis_top = nice_top(rows.iter().map(|(_, v)| *v).max().unwrap_or(0));
    let mut chart = Chart {
        id: id.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        width,
        height,
        rects: Vec::new(),
        lines: vec![Line {
            x1: 0.5,
            y1: 4.0,
            x2: 0.5,
            y2: height - 4.0,
        }],
        labels: Vec::new(),
        stripes: None,
        grey: GREY,
        black: BLACK,
    };
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 8.0 + row_h * i as f64;
        let w = plot_w * *value as f64 / axis_top as f64;
        chart.labels.push(Label {
            x: 4.0,
            y: y + 12.0,
            anchor: "start",
            text: label.clone(),
        });
        chart.rects.push(Rect {
            x: 1.0,
            y: y + 18.0,
            w: f(w),
            h: 18.0,
            fill: BLUE.to_string(),
        });
        chart.labels.push(Label {
            x: f(w + 8.0),
            y: y + 32.0,
            anchor: "start",
            text: value.to_string(),
        });
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        let cases = [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 5),
            (7, 10),
            (11, 20),
            (250, 500),
            (1000, 1000),
        ];
        for (max, top) in cases {
            assert_eq!(nice_top(max), top, "{max}");
        }
    }

    #[test]
    fn bars_are_as_tall_as_their_values() {
        let labels = vec!["1 Dec".to_string(), "2 Dec".to_string()];
        let chart = grouped_bars(
            "c",
            "t",
            "d",
            &labels,
            &[("Started", vec![5, 2]), ("Completed", vec![2, 0])],
        );
        let heights: Vec<f64> = chart.rects.iter().take(4).map(|r| r.h).collect();
        assert_eq!(heights, vec![220.0, 88.0, 88.0, 0.0]);
        assert_eq!(chart.rects[1].fill, "url(#c-stripes)");
        assert!(chart.labels.iter().any(|l| l.text == "2 Dec"));
        assert!(chart.labels.iter().any(|l| l.text == "Completed"));
        let h = horizontal_bars("o", "t", "d", &[("success".into(), 3), ("denied".into(), 1)]);
        assert_eq!(h.rects.len(), 2);
        assert!(h.rects[0].w > h.rects[1].w);
    }
}
