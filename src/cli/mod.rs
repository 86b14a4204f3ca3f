//! The `credit-gateway` command: its arguments (clap), one module per subcommand, and what
//! they share: one runtime, one way to open the settings and the store, one table printer.

pub mod bench;
pub mod calendar;
pub mod check_config;
pub mod connectors;
pub mod deadlines;
pub mod deliveries;
pub mod demo;
pub mod feeds;
pub mod grade;
pub mod id;
pub mod ingest;
pub mod ledger;
pub mod migrate;
pub mod objections;
pub mod publicity;
pub mod report;
pub mod run;
pub mod sample;
pub mod sandbox;
pub mod subjects;
pub mod tokens;
pub mod users;

use std::fmt::{Display, Write as _};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use credit_gateway::config::Settings;
use credit_gateway::store::Store;

#[derive(Parser)]
#[command(name = "credit-gateway", version, about = "公共信用信息归集与报送网关")]
pub struct Cli {
    /// The gateway's settings file.
    #[arg(long, global = true, default_value = "config/gateway.toml")]
    pub config: PathBuf,
    /// Start the clock at this instant (RFC 3339) and let it run on from there, for replays
    /// and tests; default: the real clock. Every command, `run` and `demo` included.
    #[arg(long, global = true)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Log lines for people (`human`) or one JSON object per line for the journal and log
    /// files (`json`); `auto`: human on a terminal, JSON otherwise.
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "human", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway as a service until SIGTERM or Ctrl-C.
    Run,
    /// Load and validate every configuration file; exit 0 when all are valid.
    CheckConfig,
    /// Bring the database's schema up to this version's (run after installing a new version,
    /// before starting it; `run` does it too) and list the migrations applied.
    Migrate,
    /// Identifier checks (统一社会信用代码, 组织机构代码, 身份证号).
    Id {
        #[command(subcommand)]
        command: id::IdCommand,
    },
    /// Ingest department files once through a connector's mapping.
    Ingest(ingest::IngestArgs),
    /// Write a deterministic sample department file (valid check digits, chosen share of bad rows).
    Sample(sample::SampleArgs),
    /// Working days (Chinese statutory holidays and 调休 make-up days) and deadlines.
    Calendar {
        #[command(subcommand)]
        command: calendar::CalendarCommand,
    },
    /// Figures per department, item and month: 迟报率, 合规率, overdue, due soon, returned, missing.
    Report(report::ReportArgs),
    /// Records against their deadlines, soonest first.
    Deadlines(deadlines::DeadlinesArgs),
    /// Penalties' publicity periods (公示期): list, show, a credit repair, the 超期公示 audit.
    Publicity(publicity::PublicityArgs),
    /// Connectors: their health, or one pass of one now.
    Connectors(connectors::ConnectorsArgs),
    /// The outbox: pending, failed and dead-lettered deliveries; retry them; push what is due.
    Deliveries(deliveries::DeliveriesArgs),
    /// Reverse feeds: each feed's cursor and health; `missing`, `repairs`, `rejects`, `pull`.
    Feeds(feeds::FeedsArgs),
    /// Department ledgers (台账): declared decisions per item and month, for missing reports.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
    /// 异议：登记、查询、部门答复、答复申请人、办结。
    Objections(objections::ObjectionsArgs),
    /// Try it out: write realistic department files into a demo folder and ingest them into
    /// the embedded SQLite store, with the departments' error reports.
    Demo(demo::DemoArgs),
    /// The provincial platform's subject base library (主体库): records whose name differs
    /// from it are returned at once (1001 predicted) instead of pushed; `subject show CODE|NAME`:
    /// a subject's credit file (信用档案).
    #[command(alias = "subject")]
    Subjects {
        #[command(subcommand)]
        command: subjects::SubjectsCommand,
    },
    /// Simulated upper platforms and department sources on 127.0.0.1, for demos and tests.
    Sandbox(sandbox::SandboxArgs),
    /// Dashboard and API users: add, reset (each prints a password and an API token once),
    /// remove, list.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Sessions and API tokens: end every one of a user.
    Tokens {
        #[command(subcommand)]
        command: tokens::TokensCommand,
    },
    /// Credit grades A–D of every subject on a day (SPEC §8, config/grading.toml).
    Grade(grade::GradeArgs),
    /// Benchmarks of the hot paths.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// A service logs what it does; a one-shot command only what went wrong. Under systemd the
/// journal takes stderr, which is no terminal: JSON there, one object per line.
pub fn init_logging(service: bool, format: &str) {
    let default = if service { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" || (format == "auto" && !terminal) {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.with_ansi(terminal).init();
    }
}

/// The one tokio runtime a command runs on: multi-thread, as `run` and `demo` need (the
/// dashboard, connectors, workers and feeds run side by side, and the ingest pipeline's
/// writer should not wait behind them).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One worker thread per core: the daemon's loops are tasks of their own and run side by
    // side (a long validation on one thread does not hold up the others).
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gateway")
        .build()
        .context("启动运行时失败（starting the tokio runtime）")
}

/// The gateway's settings from `config`, every file checked.
pub fn settings(config: &Path) -> anyhow::Result<Settings> {
    Ok(Settings::load(config)?)
}

/// Opens the store `settings` name, runs `body` with it on the runtime, and closes the store
/// whether `body` succeeded or not. A SQLite database that does not exist is an error (a
/// command pointed at the wrong configuration would otherwise make an empty one and print
/// empty tables); commands that bring data in use [`with_store_creating`].
pub fn with_store<T>(settings: &Settings, body: impl AsyncFnOnce(&Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
    if let Some(path) = missing_database(&settings.gateway.database_url) {
        anyhow::bail!(
            "数据库 {} 不存在：请用 --config 指向已有的配置（如 demo 的数据：--config data/demo/config/gateway.toml），\
             或先运行 credit-gateway migrate 建库",
            path.display()
        );
    }
    with_store_creating(settings, body)
}

/// [`with_store_creating`] for a command that brings data in (`creates`), else [`with_store`]:
/// one command name can both list (never making an empty database) and take data.
pub fn with_store_if<T>(
    settings: &Settings,
    creates: bool,
    body: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if creates { with_store_creating(settings, body) } else { with_store(settings, body) }
}

/// The SQLite file a URL names, when it does not exist (`None` for PostgreSQL and memory).
pub fn missing_database(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let path = PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// As [`with_store`], making the database when it does not exist yet (migrate, ingest, users).
pub fn with_store_creating<T>(
    settings: &Settings,
    body: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    runtime()?.block_on(async {
        let store =
            Store::connect(&settings.gateway.database_url).await.context("打开数据库失败（opening the store）")?;
        let result = body(&store).await;
        store.close().await;
        result
    })
}

/// One line of a CLI table: the cells separated by tabs (a spreadsheet pastes them into
/// columns, `cut -f` reads them). ID numbers are masked: the command line never shows one
/// whole (admins read them on the web).
pub fn print_row(cells: &[&dyn Display]) {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        let _ = write!(line, "{cell}");
    }
    println!("{}", credit_gateway::ids::mask_ids_in_text(&line));
}

/// Data as JSON on one line (or indented when `pretty`), with ID numbers masked in every
/// string as in [`print_row`].
pub fn print_json(value: &impl serde::Serialize, pretty: bool) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(value)?;
    credit_gateway::ids::mask_ids_in_json(&mut value);
    let text = if pretty { serde_json::to_string_pretty(&value)? } else { serde_json::to_string(&value)? };
    println!("{text}");
    Ok(())
}

/// Text a command has already rendered (a table, CSV, or JSON when `json`), with ID numbers
/// masked as in [`print_row`]; JSON is masked string by string, so numbers stay numbers.
pub fn print_rendered(text: &str, json: bool) -> anyhow::Result<()> {
    let trimmed = text.trim_end();
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(value) if json => print_json(&value, trimmed.contains('\n')),
        _ => {
            print!("{}", credit_gateway::ids::mask_ids_in_text(text));
            Ok(())
        }
    }
}

/// The first line of a CLI table: its Chinese column names.
pub fn print_header(names: &[&str]) {
    println!("{}", names.join("\t"));
}

/// After a table cut at `shown` of `total` rows: says so on stderr (the table stays clean).
pub fn print_more(shown: usize, total: i64, offset: i64) {
    let rest = total - offset - shown as i64;
    if rest > 0 {
        eprintln!("还有 {rest} 条未显示（共 {total} 条）：用 --limit 与 --offset 查看更多，或 --json 导出");
    }
}

/// A department id given on the command line, checked against the configuration: an unknown
/// one is an error that lists the valid ids (a name is taken for its id).
pub fn department_arg(settings: &Settings, given: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(given) = given else { return Ok(None) };
    if let Some(d) = settings.departments.iter().find(|d| d.id == given || d.name == given) {
        return Ok(Some(d.id.clone()));
    }
    let valid: Vec<String> = settings.departments.iter().map(|d| format!("{}（{}）", d.id, d.name)).collect();
    anyhow::bail!("没有部门“{given}”，可选：{}", valid.join("、"))
}

/// A catalogue item code given on the command line, checked like [`department_arg`].
pub fn item_arg(settings: &Settings, given: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(given) = given else { return Ok(None) };
    if let Some(i) = settings.catalogue.items().iter().find(|i| i.code == given || i.name == given) {
        return Ok(Some(i.code.clone()));
    }
    let valid: Vec<String> = settings.catalogue.items().iter().map(|i| format!("{}（{}）", i.code, i.name)).collect();
    anyhow::bail!("没有信息类别“{given}”，可选：{}", valid.join("、"))
}

/// A month given as `YYYY-MM`, checked.
pub fn month_arg(given: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(given) = given else { return Ok(None) };
    let ok = given.len() == 7 && chrono::NaiveDate::parse_from_str(&format!("{given}-01"), "%Y-%m-%d").is_ok();
    anyhow::ensure!(ok, "月份“{given}”无效：应为 YYYY-MM，月份 01–12，如 2026-03");
    Ok(Some(given))
}

/// A broken pipe (`credit-gateway deadlines | head -1`) ends a one-shot command quietly, as
/// it ends `cat`: `println!` panics when stdout is closed, and this hook turns exactly that
/// panic into a silent exit; every other panic is reported as before.
pub fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Resolves on Ctrl-C or SIGTERM (what systemd sends).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    /// `run` and `demo` serve the dashboard, connectors, workers and feeds side by side.
    #[test]
    fn commands_run_on_a_multi_thread_runtime() {
        let runtime = super::runtime().expect("a runtime");
        assert_eq!(runtime.handle().runtime_flavor(), tokio::runtime::RuntimeFlavor::MultiThread);
    }
}
