//! `report.html`: one self-contained page per run directory: the scenario, the manifest, the plots
//! (inline SVG, drawn from the tables, so a run with `plots: []` still gets them), the summary and the
//! tables. No external resources: the page can be mailed or archived as one file.
//!
//! A script at the end of the page counts the inline plots that the browser laid out with a non-empty
//! bounding box and drawn shapes, and writes `data-plots` / `data-plots-rendered` on `<body>`: the
//! browser test reads them from the rendered DOM.

use crate::{PlotError, figures};
use meanfield_sinks::AtomicFile;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Rows of a table shown in full; longer tables show their head and the number of rows.
const TABLE_ROWS: usize = 200;
const TIMESERIES_ROWS: usize = 20;

/// Writes `<dir>/report.html` for the run in `dir` and returns its path.
pub fn write_report(dir: &Path) -> Result<PathBuf, PlotError> {
    let manifest_path = dir.join("manifest.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&manifest_path)
        .map_err(|e| PlotError::Read {
            path: manifest_path.clone(),
            message: format!("{e} (is {} the output directory of a finished run?)", dir.display()),
        })
        .and_then(|text| {
            serde_json::from_str(&text)
                .map_err(|e| PlotError::Format { path: manifest_path.clone(), message: e.to_string() })
        })?;
    let text = |key: &str| manifest.get(key).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let name = text("scenario_name");
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>meanfield run: {}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>meanfield run: {}</h1>\n",
        escape(&name),
        escape(&name)
    );
    page.push_str("<h2>Manifest</h2>\n<table class=\"manifest\">\n");
    if let Some(fields) = manifest.as_object() {
        for (key, value) in fields {
            if key == "scenario_text" || key == "files" {
                continue;
            }
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(page, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(&shown));
        }
    }
    page.push_str("</table>\n");

    page.push_str("<h2>Plots</h2>\n");
    let mut plotted = 0;
    for table in ["timeseries.csv", "study.csv", "ldp.csv"] {
        let path = dir.join(table);
        if !path.exists() {
            continue;
        }
        for figure in figures(&path)? {
            let svg = figure.svg().map_err(|message| PlotError::Draw { path: path.clone(), message })?;
            let svg = svg.find("<svg").map_or(svg.as_str(), |start| &svg[start..]);
            let _ = writeln!(
                page,
                "<figure id=\"{}\">{svg}<figcaption>{} (from {table})</figcaption></figure>",
                escape(&crate::file_stem(&figure.name)),
                escape(&figure.title)
            );
            plotted += 1;
        }
    }
    if plotted == 0 {
        page.push_str("<p>This run wrote no table with plots.</p>\n");
    }

    for (table, rows) in [("study.csv", TABLE_ROWS), ("ldp.csv", TABLE_ROWS), ("timeseries.csv", TIMESERIES_ROWS)] {
        let path = dir.join(table);
        if path.exists() {
            let _ = writeln!(page, "<h2>{table}</h2>");
            page.push_str(&html_table(&path, rows)?);
        }
    }
    for (title, file) in [("Summary (summary.ron)", "summary.ron")] {
        if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
            let _ = writeln!(page, "<h2>{title}</h2>\n<pre>{}</pre>", escape(&text));
        }
    }
    let _ = writeln!(
        page,
        "<h2>Scenario ({})</h2>\n<pre>{}</pre>",
        escape(&text("scenario_source")),
        escape(&text("scenario_text"))
    );
    page.push_str(RENDER_CHECK);
    page.push_str("</body></html>\n");
    Ok(AtomicFile::write_all(&dir.join("report.html"), page.as_bytes())?)
}

/// A CSV file as an HTML table: the header and up to `limit` rows, then how many were left out.
fn html_table(path: &Path, limit: usize) -> Result<String, PlotError> {
    let mut reader = meanfield_core::files::open_regular(path, "a table")
        .map(csv::Reader::from_reader)
        .map_err(|e| PlotError::read(path, e))?;
    let mut html = String::from("<div class=\"table\"><table>\n<tr>");
    for h in reader.headers().map_err(|e| PlotError::read(path, e))? {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html.push_str("</tr>\n");
    let mut total = 0;
    for record in reader.records() {
        let record = record.map_err(|e| PlotError::read(path, e))?;
        total += 1;
        if total <= limit {
            html.push_str("<tr>");
            for cell in &record {
                let _ = write!(html, "<td>{}</td>", escape(cell));
            }
            html.push_str("</tr>\n");
        }
    }
    html.push_str("</table></div>\n");
    if total > limit {
        let _ = writeln!(html, "<p class=\"note\">The first {limit} of {total} rows; the rest are in the file.</p>");
    }
    Ok(html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}\
.table{overflow-x:auto;max-height:30em}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}\
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.8em}.note{color:#555}";

/// Marks on `<body>` how many inline plots the browser laid out with drawn shapes (see the module doc).
const RENDER_CHECK: &str = "<script>\n(function () {\n  var plots = document.querySelectorAll('figure > svg');\n  var rendered = 0;\n  plots.forEach(function (svg) {\n    var box = svg.getBoundingClientRect();\n    var shapes = svg.querySelectorAll('path, polyline, polygon, rect, circle, line, text').length;\n    if (box.width > 0 && box.height > 0 && shapes > 0) { rendered += 1; }\n  });\n  document.body.setAttribute('data-plots', String(plots.length));\n  document.body.setAttribute('data-plots-rendered', String(rendered));\n})();\n</script>\n";
