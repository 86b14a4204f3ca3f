//! The architecture's rules, checked on the source (as rust-analyzer's tidy test does): SQL
//! against the store only in `store`, `anyhow` only in the command line, the clock read only
//! in `clock`, tasks spawned only by the supervisor, no file system in pure modules, no HTML
//! written by hand in `web`, and a `//!` line opening every source file. Each rule is also run
//! on a planted violation, so the test cannot pass by matching nothing.

use std::path::{Path, PathBuf};

/// One source file: its path below `src/` (with `/`) and its text.
struct Source {
    path: String,
    text: String,
}

/// A rule: a name, the files it exempts (path prefixes, each with its reason) and what it looks for.
struct Rule {
    name: &'static str,
    applies: fn(&str) -> bool,
    offends: fn(&str) -> bool,
}

/// Modules that ARCHITECTURE.md calls pure: no IO of any kind.
const PURE: &[&str] = &[
    "ids.rs",
    "iso_date.rs",
    "transform.rs",
    "record.rs",
    "problem.rs",
    "publicity.rs",
    "calendar.rs",
    "deadline.rs",
    "report.rs",
    "ledger.rs",
    "catalogue/",
    "mapping/",
    "feed/parse.rs",
    "feed/route.rs",
    "sector.rs",
    "grading.rs",
    "subject.rs",
];

fn is_cli(path: &str) -> bool {
    path == "main.rs" || path.starts_with("cli/") || path.starts_with("bin/")
}

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "SQL against the gateway's store outside `store`",
            // connector::sql and the sandbox's departments query the departments' own
            // databases.
            applies: |p| {
                !p.starts_with("store/")
                    && p != "connector/sql.rs"
                    && !p.starts_with("sandbox/")
                    && !p.starts_with("sim/")
            },
            offends: |line| {
                line.contains("sqlx::")
                    || line.contains("INSERT INTO")
                    || line.contains("DELETE FROM")
                    || (line.contains("SELECT ") && line.contains(" FROM "))
            },
        },
        Rule {
            name: "`anyhow` outside the command line",
            applies: |p| !is_cli(p),
            offends: |line| line.contains("anyhow"),
        },
        Rule {
            name: "the clock read outside `clock`",
            applies: |p| p != "clock.rs",
            offends: |line| {
                line.contains("Utc::now()") || line.contains("Local::now()") || line.contains("SystemTime::now()")
            },
        },
        Rule {
            name: "a task spawned outside the supervisor",
            applies: |p| p != "supervisor.rs",
            offends: |line| line.contains("tokio::spawn(") || line.contains("tokio::task::spawn("),
        },
        Rule {
            name: "the file system or the configuration loader used in a pure module",
            applies: |p| PURE.iter().any(|m| p == *m || (m.ends_with('/') && p.starts_with(m))),
            offends: |line| {
                line.contains("std::fs")
                    || line.contains("tokio::fs")
                    || line.contains("File::open")
                    || line.contains("File::create")
                    || line.contains("read_dir(")
                    || line.contains("crate::config")
            },
        },
        Rule {
            // Pages are maud templates, which escape every value they are given; only the
            // constant style sheets go in as they are.
            name: "HTML written by hand in `web`",
            applies: |p| p.starts_with("web/"),
            offends: |line| {
                line.contains("\"<")
                    || line.contains("</")
                    || (line.contains("PreEscaped(")
                        && !line.contains("PreEscaped(STYLE)")
                        && !line.contains("PreEscaped(REPORT_STYLE)"))
            },
        },
    ]
}

/// Every violation in `sources`, as `path:line: rule: text`.
fn violations(sources: &[Source]) -> Vec<String> {
    let rules = rules();
    let mut found = Vec::new();
    for source in sources {
        if !source.text.starts_with("//!") {
            found.push(format!("src/{}:1: a source file without its `//!` line", source.path));
        }
        for (n, line) in code_lines(&source.text) {
            for rule in rules.iter().filter(|r| (r.applies)(&source.path)) {
                if (rule.offends)(line) {
                    found.push(format!("src/{}:{}: {}: {}", source.path, n, rule.name, line.trim()));
                }
            }
        }
    }
    found
}

/// The lines that are code: comments are skipped, and so is a file's `#[cfg(test)]` tail
/// (tests may read files, spawn and look at the real clock).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(i, line)| (i + 1, line))
}

fn sources(root: &Path) -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).expect("src is readable").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(root).expect("below src").to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("source is UTF-8");
                out.push(Source { path: rel, text });
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn the_source_keeps_the_architecture_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = sources(&src);
    assert!(sources.len() > 50, "the walk found the source files");
    let found = violations(&sources);
    assert!(found.is_empty(), "rules of ARCHITECTURE.md broken:\n{}", found.join("\n"));
}

#[test]
fn each_rule_catches_a_planted_violation() {
    let planted = |path: &str, line: &str| Source { path: path.to_string(), text: format!("//! A module.\n{line}\n") };
    let cases = [
        planted("web/records.rs", r#"let row = sqlx::query("SELECT id FROM records").fetch_one(pool);"#),
        planted("ingest.rs", "fn f() -> anyhow::Result<()> { Ok(()) }"),
        planted("delivery/worker.rs", "let now = Utc::now();"),
        planted("daemon.rs", "tokio::spawn(async {});"),
        planted("calendar.rs", "let text = std::fs::read_to_string(path)?;"),
        planted("mapping/mod.rs", "use crate::config::read_toml;"),
        planted("web/pages.rs", r#"let cell = format!("<td>{}</td>", name);"#),
        planted("web/records.rs", "let cell = PreEscaped(reason);"),
        Source { path: "web/mod.rs".to_string(), text: "use std::sync::Arc;\n".to_string() },
    ];
    for case in &cases {
        let found = violations(std::slice::from_ref(case));
        assert_eq!(found.len(), 1, "{}: {found:?}", case.path);
    }
    // The exempt places stay exempt.
    let allowed = [
        planted("store/records.rs", r#"sqlx::query("SELECT id FROM records")"#),
        planted("main.rs", "fn main() -> anyhow::Result<()> { Ok(()) }"),
        planted("clock.rs", "Utc::now()"),
        planted("supervisor.rs", "tokio::spawn(task)"),
        planted("format/csv.rs", "std::fs::File::open(path)"),
        planted("calendar.rs", "// std::fs is not used here"),
        planted("web/pages.rs", "style { (PreEscaped(STYLE)) }"),
        planted("api.rs", r#"let doc = "<b>not a page</b>";"#),
    ];
    for case in &allowed {
        assert!(violations(std::slice::from_ref(case)).is_empty(), "{} is allowed", case.path);
    }
}
