//! The combined report: each study's raw data as JSON beside its CSV, its charts, and one
//! `report.md` (with a self-contained `report.html`) that records the provenance, checks
//! every target and embeds every chart.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::chart::{Chart, ChartError};
use crate::machine::Provenance;
use crate::process_start::TargetCheck;

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// Each study's Markdown and CSV, and `report.md`.
    pub md: bool,
    /// Each study's raw data as JSON.
    pub json: bool,
    /// Charts as SVG (needed by `report.html`).
    pub svg: bool,
    /// Charts as PNG (embedded by `report.md`).
    pub png: bool,
    /// `report.html`, with the SVG charts inline.
    pub html: bool,
}

impl Formats {
    /// Every format.
    pub const ALL: Formats = Formats {
        md: true,
        json: true,
        svg: true,
        png: true,
        html: true,
    };
}

/// What one study contributes to the report.
#[derive(Debug, Clone)]
pub struct StudyReport {
    /// The study's name (`ipc`), also its files' stem.
    pub name: String,
    /// The study's title.
    pub title: String,
    /// The study's own Markdown report.
    pub markdown: String,
    /// Its targets.
    pub targets: Vec<TargetCheck>,
    /// Chart files written: `(stem, title)`, under `charts/`.
    pub charts: Vec<(String, String)>,
    /// Charts that could not be drawn, with the reason.
    pub chart_errors: Vec<String>,
    /// Lines the combined report shows under the study (e.g. what was not measured).
    pub notes: Vec<String>,
    /// How long the study took to run, seconds.
    pub seconds: f64,
}

/// The rows of a CSV text (first line: the header) as JSON objects; fields that parse as
/// numbers become numbers, empty fields `null`, the rest strings.
///
/// ```
/// let v = bench_harness::report::csv_to_json("a,b,c\nx,1.5,\n");
/// assert_eq!(v, serde_json::json!([{"a": "x", "b": 1.5, "c": null}]));
/// ```
pub fn csv_to_json(csv: &str) -> Value {
    let mut lines = csv.lines();
    let Some(head) = lines.next() else {
        return Value::Array(vec![]);
    };
    let cols: Vec<&str> = head.split(',').collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut o = Map::new();
            for (c, f) in cols.iter().zip(l.split(',')) {
                let v = if f.is_empty() {
                    Value::Null
                } else if let Ok(n) = f.parse::<i64>() {
                    json!(n)
                } else if let Some(x) = f.parse::<f64>().ok().filter(|x| x.is_finite()) {
                    json!(x)
                } else {
                    json!(f)
                };
                o.insert((*c).to_string(), v);
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(rows)
}

/// CSV text from JSON rows as [`csv_to_json`] makes them, with the columns `cols`.
pub fn json_to_csv(rows: &Value, cols: &[&str]) -> String {
    let mut o = cols.join(",");
    o.push('\n');
    for r in rows.as_array().into_iter().flatten() {
        let fields: Vec<String> = cols
            .iter()
            .map(|c| match r.get(*c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        o.push_str(&fields.join(","));
        o.push('\n');
    }
    o
}

/// The provenance as a JSON object.
pub fn provenance_json(p: &Provenance) -> Value {
    json!({
        "date": p.date,
        "command": p.command,
        "git_revision": p.git_revision,
        "rustc": p.rustc,
        "cores": p.cores,
        "online_cores": p.online_cores,
        "cpu_model": p.cpu_model,
        "kernel": p.kernel,
        "memory_bytes": p.memory_bytes,
    })
}

/// Writes a study's `{name}.csv` and `{name}.md` into `dir` (created if needed) and
/// returns their paths: what every study's `write` does.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("bench-harness-doc-{}", std::process::id()));
/// let [csv, md] = bench_harness::report::write_csv_md(&dir, "demo", "a,b\n1,2\n", "# demo\n")?;
/// assert_eq!(std::fs::read_to_string(&csv)?, "a,b\n1,2\n");
/// assert!(md.ends_with("demo.md"));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_csv_md(dir: &Path, name: &str, csv: &str, md: &str) -> std::io::Result<[PathBuf; 2]> {
    std::fs::create_dir_all(dir)?;
    let csv_path = dir.join(format!("{name}.csv"));
    let md_path = dir.join(format!("{name}.md"));
    std::fs::write(&csv_path, csv)?;
    std::fs::write(&md_path, md)?;
    Ok([csv_path, md_path])
}

/// Writes `dir/{name}.json`: the study's name, the provenance and the CSV's rows.
pub fn write_json(dir: &Path, name: &str, p: &Provenance, csv: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let cols: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let v = json!({
        "study": name,
        "provenance": provenance_json(p),
        "columns": cols,
        "rows": csv_to_json(csv),
    });
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}

/// Draws `charts` into `dir/charts/` in the formats asked for; returns the
/// `(stem, title)` of those drawn and the errors of the others.
pub fn write_charts(
    dir: &Path,
    charts: &[(String, Chart)],
    formats: Formats,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    if !formats.svg && !formats.png {
        return (ok, errors);
    }
    let cdir = dir.join("charts");
    for (stem, chart) in charts {
        match chart.write_formats(&cdir, stem, formats.svg, formats.png) {
            Ok(_) => ok.push((stem.clone(), chart.title().to_string())),
            Err(e @ ChartError::Empty(_)) => errors.push(e.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (ok, errors)
}

/// Writes a study's "Not measured" section: each case that could not run, with why;
/// nothing when every case ran.
///
/// ```
/// let mut o = String::new();
/// bench_harness::report::write_skipped(&mut o, &[]);
/// assert!(o.is_empty());
/// bench_harness::report::write_skipped(&mut o, &[("pipe 1 MiB".into(), "timed out".into())]);
/// assert_eq!(o, "## Not measured\n\n- pipe 1 MiB: timed out\n");
/// ```
pub fn write_skipped(o: &mut String, skipped: &[(String, String)]) {
    if skipped.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Not measured\n");
    for (what, why) in skipped {
        let _ = writeln!(o, "- {what}: {why}");
    }
}

fn provenance_rows(p: &Provenance, python: &str) -> String {
    let mut o = p.markdown_rows();
    let _ = writeln!(o, "| CPython | {python} |");
    o
}

/// `report.md`: provenance, every target, then per study its charts and its files.
pub fn markdown(p: &Provenance, python: &str, studies: &[StudyReport], formats: Formats) -> String {
    let mut o = String::from("# multiproc benchmark report\n\n");
    o.push_str(&provenance_rows(p, python));
    o.push('\n');
    let _ = writeln!(o, "## Targets\n");
    let _ = writeln!(
        o,
        "| study | ratio of medians | measured | goal | met |\n|---|---|--:|--:|---|"
    );
    for s in studies {
        let mut t = String::new();
        TargetCheck::write_table(&mut t, &s.targets);
        for line in t.lines().skip(2) {
            let _ = writeln!(o, "| {} {line}", s.name);
        }
    }
    o.push('\n');
    let _ = writeln!(o, "## Studies run\n\n| study | time taken |\n|---|--:|");
    for s in studies {
        let _ = writeln!(
            o,
            "| [{}](#{}) | {:.1} s |",
            s.title,
            anchor(&s.title),
            s.seconds
        );
    }
    o.push('\n');
    let ext = if formats.png { "png" } else { "svg" };
    for s in studies {
        let _ = writeln!(o, "## {}\n", s.title);
        let mut files = vec![
            format!("[report]({}.md)", s.name),
            format!("[CSV]({}.csv)", s.name),
        ];
        if formats.json {
            files.push(format!("[JSON]({}.json)", s.name));
        }
        let _ = writeln!(o, "Details: {}.\n", files.join(", "));
        if formats.svg || formats.png {
            for (stem, title) in &s.charts {
                let _ = writeln!(o, "![{title}](charts/{stem}.{ext})\n");
            }
        }
        for e in &s.chart_errors {
            let _ = writeln!(o, "- chart not drawn: {e}");
        }
        for n in &s.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    o
}

/// The anchor GitHub gives a heading: lower case, spaces to dashes, other punctuation
/// dropped.
fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown (`code`, **bold**, [links](x)) as HTML; the text is escaped.
fn inline(s: &str) -> String {
    let mut o = String::new();
    let mut code = false;
    for (i, part) in s.split('`').enumerate() {
        if i > 0 {
            o.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        }
        if code {
            o.push_str(&escape(part));
        } else {
            let mut t = escape(part);
            while let (Some(a), true) = (t.find("**"), t.matches("**").count() >= 2) {
                t.replace_range(a..a + 2, "<b>");
                if let Some(b) = t.find("**") {
                    t.replace_range(b..b + 2, "</b>");
                }
            }
            o.push_str(&links(&t));
        }
    }
    o
}

/// `[text](target)` as a link.
fn links(t: &str) -> String {
    let mut o = String::new();
    let mut rest = t;
    while let Some(a) = rest.find('[') {
        let Some(mid) = rest[a..].find("](").map(|m| a + m) else {
            break;
        };
        let Some(end) = rest[mid..].find(')').map(|e| mid + e) else {
            break;
        };
        o.push_str(&rest[..a]);
        let _ = write!(
            o,
            "<a href=\"{}\">{}</a>",
            &rest[mid + 2..end],
            &rest[a + 1..mid]
        );
        rest = &rest[end + 1..];
    }
    o.push_str(rest);
    o
}

/// Markdown as the reports write it (headings, tables, lists, paragraphs, images) as
/// HTML; `image` turns an image's target into the HTML that shows it.
pub fn md_to_html(md: &str, image: &dyn Fn(&str, &str) -> String) -> String {
    let mut o = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut table: Vec<&str> = Vec::new();
    let mut list = false;
    let flush_para = |o: &mut String, para: &mut Vec<&str>| {
        if !para.is_empty() {
            let _ = writeln!(o, "<p>{}</p>", inline(&para.join(" ")));
            para.clear();
        }
    };
    let flush_table = |o: &mut String, table: &mut Vec<&str>| {
        if table.is_empty() {
            return;
        }
        o.push_str("<table>\n");
        for (i, row) in table.iter().enumerate() {
            if i == 1 && row.contains("---") {
                continue;
            }
            let cells: Vec<&str> = row.trim().trim_matches('|').split('|').collect();
            let tag = if i == 0 { "th" } else { "td" };
            o.push_str("<tr>");
            for c in cells {
                let _ = write!(o, "<{tag}>{}</{tag}>", inline(c.trim()));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>\n");
        table.clear();
    };
    for line in md.lines() {
        let t = line.trim_end();
        if !t.starts_with('|') {
            flush_table(&mut o, &mut table);
        }
        if list && !t.starts_with("- ") {
            o.push_str("</ul>\n");
            list = false;
        }
        if t.is_empty() {
            flush_para(&mut o, &mut para);
        } else if let Some(h) = t.strip_prefix('#') {
            flush_para(&mut o, &mut para);
            let level = 1 + h.chars().take_while(|&c| c == '#').count();
            let text = h.trim_start_matches('#').trim();
            let _ = writeln!(
                o,
                "<h{level} id=\"{}\">{}</h{level}>",
                escape(&anchor(text)),
                inline(text)
            );
        } else if t.starts_with('|') {
            flush_para(&mut o, &mut para);
            table.push(t);
        } else if let Some(item) = t.strip_prefix("- ") {
            flush_para(&mut o, &mut para);
            if !list {
                o.push_str("<ul>\n");
                list = true;
            }
            let _ = writeln!(o, "<li>{}</li>", inline(item));
        } else if let (Some(rest), true) = (t.strip_prefix("!["), t.ends_with(')')) {
            flush_para(&mut o, &mut para);
            if let Some((alt, target)) = rest.trim_end_matches(')').split_once("](") {
                o.push_str(&image(alt, target));
            }
        } else {
            para.push(t);
        }
    }
    flush_table(&mut o, &mut table);
    flush_para(&mut o, &mut para);
    if list {
        o.push_str("</ul>\n");
    }
    o
}

/// `report.html`: `report.md` followed by every study's own report, with the charts'
/// SVG inline and no outside reference, so the file can be mailed or archived alone.
pub fn html(dir: &Path, report_md: &str, studies: &[StudyReport]) -> String {
    let image = |alt: &str, target: &str| {
        let svg_path = dir.join(Path::new(target).with_extension("svg"));
        match std::fs::read_to_string(&svg_path) {
            Ok(svg) => {
                let start = svg.find("<svg").unwrap_or(0);
                format!(
                    "<figure>{}<figcaption>{}</figcaption></figure>\n",
                    &svg[start..],
                    escape(alt)
                )
            }
            Err(_) => format!("<p>(chart {} not available)</p>\n", escape(alt)),
        }
    };
    let mut body = md_to_html(report_md, &image);
    for s in studies {
        let _ = writeln!(body, "<hr>\n<section id=\"{}\">", escape(&s.name));
        body.push_str(&md_to_html(&s.markdown, &image));
        body.push_str("</section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>multiproc benchmark report</title>\n<style>\n\
         body{{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}}\n\
         table{{border-collapse:collapse;margin:1em 0}}\n\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\n\
         th{{background:#f0f0f0}}\ncode{{background:#f4f4f4;padding:0 3px}}\n\
         figure{{margin:1em 0}} svg{{max-width:100%;height:auto}}\n</style>\n</head>\n<body>\n\
         {body}</body>\n</html>\n"
    )
}

/// Writes `report.md` (when `formats.md`) and `report.html` (when `formats.html`) into
/// `dir`; returns the paths written.
pub fn write_report(
    dir: &Path,
    p: &Provenance,
    python: &str,
    studies: &[StudyReport],
    formats: Formats,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let md = markdown(p, python, studies, formats);
    let mut written = Vec::new();
    if formats.md {
        let path = dir.join("report.md");
        std::fs::write(&path, &md)?;
        written.push(path);
    }
    if formats.html {
        let path = dir.join("report.html");
        std::fs::write(&path, html(dir, &md, studies))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process_start::Goal;

    #[test]
    fn csv_and_json_round_trip() {
        let csv = "kind,mechanism,spin,size_bytes,median_ns\n\
                   round_trip,queue,on,8,900.5\none_way,cpython_queue,,1048576,6000000.0\n";
        let json = csv_to_json(csv);
        assert_eq!(json[0]["size_bytes"], json!(8));
        assert_eq!(json[0]["median_ns"], json!(900.5));
        assert_eq!(json[1]["spin"], Value::Null);
        let cols: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let back = json_to_csv(&json, &cols);
        assert_eq!(csv_to_json(&back), json);
        assert!(back.starts_with(
            "kind,mechanism,spin,size_bytes,median_ns\nround_trip,queue,on,8,900.5\n"
        ));
    }

    #[test]
    fn json_file_carries_provenance_and_rows() {
        let dir = std::env::temp_dir().join(format!("bench-harness-json-{}", std::process::id()));
        let p = Provenance::gather();
        let path = write_json(&dir, "tiny", &p, "a,b\n1,x\n").unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["study"], "tiny");
        assert_eq!(v["rows"][0]["a"], 1);
        assert_eq!(v["provenance"]["cores"], json!(p.cores));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn markdown_becomes_html() {
        let md = "# Title\n\ntext `a<b` **bold** [x](y.md)\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n- one\n- two\n\n![chart](charts/c.png)\n";
        let h = md_to_html(md, &|alt, t| format!("<img alt=\"{alt}\" src=\"{t}\">"));
        for want in [
            "<h1 id=\"title\">Title</h1>",
            "<code>a&lt;b</code>",
            "<b>bold</b>",
            "<a href=\"y.md\">x</a>",
            "<th>a</th>",
            "<td>2</td>",
            "<li>two</li>",
            "<img alt=\"chart\" src=\"charts/c.png\">",
        ] {
            assert!(h.contains(want), "missing {want} in {h}");
        }
        assert!(!h.contains("---"));
    }

    #[test]
    fn report_lists_targets_and_charts_and_html_is_self_contained() {
        let dir = std::env::temp_dir().join(format!("bench-harness-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("charts")).unwrap();
        std::fs::write(dir.join("charts/x.svg"), "<?xml?><svg id=\"inline\"></svg>").unwrap();
        let s = StudyReport {
            name: "tiny".into(),
            title: "A tiny study".into(),
            markdown: "# Tiny\n\nbody\n".into(),
            targets: vec![TargetCheck {
                what: "a / b",
                ratio: Some(2.0),
                goal: Goal::AtLeast(1.5),
            }],
            charts: vec![("x".into(), "X chart".into())],
            chart_errors: vec![],
            notes: vec!["Not measured: mpi: `mpirun` is not on PATH".into()],
            seconds: 1.25,
        };
        let p = Provenance::gather();
        let paths = write_report(&dir, &p, "not run", &[s], Formats::ALL).unwrap();
        assert_eq!(paths.len(), 2);
        let md = std::fs::read_to_string(&paths[0]).unwrap();
        assert!(
            md.contains("| tiny | a / b | 2.00x | ≥ 1.5x | yes |"),
            "{md}"
        );
        assert!(md.contains("![X chart](charts/x.png)"));
        assert!(
            md.contains("- Not measured: mpi: `mpirun` is not on PATH\n"),
            "{md}"
        );
        assert!(md.contains("| CPython | not run |"));
        assert!(
            md.contains("| [A tiny study](#a-tiny-study) | 1.2 s |"),
            "{md}"
        );
        let html = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(html.contains("<svg id=\"inline\"></svg>") && !html.contains("<?xml"));
        assert!(html.contains("<h1 id=\"tiny\">Tiny</h1>"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
