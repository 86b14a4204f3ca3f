//! The `credit-gateway` command: a thin edge over the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod cli;

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ids;
use credit_gateway::ingest::{IngestError, IngestOptions, IngestSummary, ingest_file};
use credit_gateway::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};
use credit_gateway::store::Store;

/// mimalloc: the ingest pipeline allocates on one thread and frees on another (rows cross to
/// the store's worker), which glibc's allocator handles slowly; measured +15% rows/s.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "credit-gateway", version, about = "公共信用信息归集与报送网关")]
struct Cli {
    /// The gateway's settings file.
    #[arg(long, global = true, default_value = "config/gateway.toml")]
    config: PathBuf,
    /// Start the clock at this instant (RFC 3339) and let it run on from there, for replays
    /// and tests; default: the real clock. Every command, `run` and `demo` included.
    #[arg(long, global = true)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    /// Log lines for people (`human`) or one JSON object per line for the journal and log
    /// files (`json`); `auto`: human on a terminal, JSON otherwise.
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "human", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        command: IdCommand,
    },
    /// Ingest department files once through a connector's mapping.
    Ingest {
        /// Connector name (file stem under connectors/).
        #[arg(long)]
        connector: String,
        /// Print one JSON object per file instead of a summary.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write a deterministic sample department file (valid check digits, chosen share of bad rows).
    Sample {
        /// XK (行政许可) or CF (行政处罚).
        #[arg(long, default_value = "CF")]
        item: String,
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// Share of rows with exactly one problem each (0–1).
        #[arg(long, default_value_t = 0.05)]
        bad: f64,
        /// Share of 简易程序 rows (CF only), which are filtered out.
        #[arg(long, default_value_t = 0.02)]
        summary: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// csv, csv-bom, csv-gbk, xlsx or xlsx-title.
        #[arg(long, default_value = "csv")]
        format: String,
        /// First decision date; dates spread over --days days.
        #[arg(long, default_value = "2024-01-01")]
        first_date: chrono::NaiveDate,
        #[arg(long, default_value_t = 365)]
        days: u32,
        out: PathBuf,
    },
    /// Working days (Chinese statutory holidays and 调休 make-up days) and deadlines.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Figures per department, item and month: 迟报率, 合规率, overdue, due soon, returned, missing.
    Report {
        /// table, csv or json.
        #[arg(long, default_value = "table")]
        format: String,
        /// Only this department (id).
        #[arg(long)]
        department: Option<String>,
        /// Only this month (YYYY-MM).
        #[arg(long)]
        month: Option<String>,
    },
    /// Records against their deadlines, soonest first.
    Deadlines {
        /// pending, due_soon, overdue, reported_on_time or reported_late.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        item: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Connectors: their health, or one pass of one now.
    Connectors {
        #[command(subcommand)]
        command: Option<ConnectorsCommand>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The outbox: pending, failed and dead-lettered deliveries; retry them; push what is due.
    Deliveries {
        #[command(subcommand)]
        command: Option<DeliveriesCommand>,
        /// Only this status: pending, in_flight, accepted, returned, dead, superseded.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Reverse feeds: each feed's cursor and health; `missing`, `repairs`, `rejects`, `pull`.
    Feeds {
        #[command(subcommand)]
        command: Option<FeedsCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Department ledgers (台账): declared decisions per item and month, for missing reports.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Try it out: write realistic department files into a demo folder and ingest them into
    /// the embedded SQLite store, with the departments' error reports.
    Demo {
        /// Working folder: a copy of the configuration, the SQLite store, inboxes. Emptied on
        /// start if an earlier demo made it.
        #[arg(long, default_value = "data/demo")]
        dir: PathBuf,
        /// The dashboard (a free port if this one is taken).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The sandbox platforms (a free port if taken).
        #[arg(long, default_value = "127.0.0.1:8090")]
        platforms: std::net::SocketAddr,
        /// The sandbox department APIs (a free port if taken).
        #[arg(long, default_value = "127.0.0.1:8091")]
        departments: std::net::SocketAddr,
        /// Seconds between the market regulator's files.
        #[arg(long, default_value_t = 20)]
        every: u64,
        /// Rows per 行政处罚 file.
        #[arg(long, default_value_t = 300)]
        rows: u64,
    },
    /// Simulated upper platforms and department sources on 127.0.0.1, for demos and tests.
    Sandbox {
        /// The platforms: /platforms/{name}/json|xml, /sandbox/stats, /sandbox/faults.
        #[arg(long, default_value = "127.0.0.1:8090")]
        platforms: std::net::SocketAddr,
        /// The department APIs the shipped tax and court connectors pull.
        #[arg(long, default_value = "127.0.0.1:8091")]
        departments: std::net::SocketAddr,
        /// Run only the platforms (benchmarks).
        #[arg(long)]
        platforms_only: bool,
        /// Subject base library (CSV name,credit_code): a known code under another name is returned (1001).
        #[arg(long)]
        subjects: Option<PathBuf>,
    },
    /// Dashboard and API users: add one (prints its password and API token once), or list them.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Benchmarks of the hot paths.
    Bench {
        #[command(subcommand)]
        command: cli::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Records of our jurisdiction sent down that no department reported (漏报/瞒报 candidates).
    Missing,
    /// Repair results (信用修复) and their withdrawals against the 3-working-day SLA.
    Repairs,
    /// Feed records refused, with the reason.
    Rejects,
    /// Pull one feed now, until the platform has no more.
    Pull { feed: String },
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// Put deliveries back in the queue now: by id, or every dead letter with --dead.
    Retry {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        dead: bool,
    },
    /// Push everything due now to one destination (the daemon does this continuously).
    Push { destination: String },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user (or reset one): role admin, ops or department (with --department).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        department: Option<String>,
        /// The password; default: a random one, printed once.
        #[arg(long)]
        password: Option<String>,
    },
    /// Name, role and department of every user.
    List,
}

#[derive(Subcommand)]
enum ConnectorsCommand {
    /// Each connector: kind, department, item, schedule, last run, status, rows, errors, next run.
    List,
    /// Run one pass of a connector now and print what it took (JSON).
    Run { name: String },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// One line per date: the date and `workday` or `off` (` provisional` without the year's file).
    IsWorkday {
        #[arg(required = true)]
        dates: Vec<chrono::NaiveDate>,
    },
    /// One line per date: the date, a tab, the deadline, and ` provisional` where it is.
    Deadline {
        #[arg(long, default_value_t = 7)]
        working_days: u32,
        #[arg(required = true)]
        dates: Vec<chrono::NaiveDate>,
    },
    /// Recompute every provisional deadline with the calendar files as they are now.
    Recompute,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Import a ledger CSV (部门, 信息类别, 月份, 决定数).
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum IdCommand {
    /// Print each value with valid/invalid, the kind it was taken for, and why.
    Check {
        #[arg(required = true)]
        values: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Run), &cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A service logs what it does; a one-shot command only what went wrong. Under systemd the
/// journal takes stderr, which is no terminal: JSON there, one object per line.
fn init_logging(service: bool, format: &str) {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // One clock for the whole command: `--now` starts it, and it runs on from there.
    let clock = Clock::from_flag(cli.now);
    match cli.command {
        Command::Run => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(credit_gateway::daemon::run(&cli.config, clock, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                let applied = store.applied_migrations().await?;
                store.close().await;
                for (version, description, at) in &applied {
                    println!("{version:04} {description}  (applied {at})");
                }
                println!("schema up to date: {} migrations, version {}", applied.len(), env!("CARGO_PKG_VERSION"));
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Users { command } => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(users_command(&settings, command, clock.now()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => match Settings::load(&cli.config) {
            Ok(s) => {
                println!(
                    "configuration ok: {} catalogue items, {} mappings, {} connectors",
                    s.catalogue.items().len(),
                    s.mappings.len(),
                    s.connectors.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Id { command: IdCommand::Check { values } } => {
            let mut all_valid = true;
            for v in values {
                let check = ids::check_any(&v);
                let kind = check.kind.map_or("unknown", |k| k.as_str());
                // Personal ID numbers are never echoed in full.
                let shown = if check.kind == Some(ids::IdKind::IdNumber) { ids::mask_id_number(&v) } else { v.clone() };
                match check.result {
                    Ok(()) => println!("{shown}\tvalid\t{kind}"),
                    Err(e) => {
                        all_valid = false;
                        println!("{shown}\tinvalid\t{kind}\t{e}");
                    }
                }
            }
            Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Ingest { connector, json, files } => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(ingest_command(&settings, &connector, json, &files, &clock))
        }
        Command::Sample { item, rows, bad, summary, seed, format, first_date, days, out } => {
            let item = match item.as_str() {
                "CF" | "cf" => SampleItem::Penalties,
                "XK" | "xk" => SampleItem::Licences,
                other => anyhow::bail!("unknown item {other:?} (expected XK or CF)"),
            };
            let format = match format.as_str() {
                "csv" => SampleFormat::Csv,
                "csv-bom" => SampleFormat::CsvBom,
                "csv-gbk" => SampleFormat::CsvGbk,
                "xlsx" => SampleFormat::Xlsx { title_row: false },
                "xlsx-title" => SampleFormat::Xlsx { title_row: true },
                other => anyhow::bail!("unknown format {other:?} (expected csv, csv-bom, csv-gbk, xlsx or xlsx-title)"),
            };
            let spec =
                SampleSpec { item, rows, seed, bad_share: bad, summary_share: summary, format, first_date, days };
            let summary = write_sample(&spec, &out).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox { platforms, departments, platforms_only, subjects } => {
            let settings = Settings::load(&cli.config)?;
            let mut plan = credit_gateway::sandbox::serve::SandboxPlan::for_settings(&settings);
            plan.platforms = platforms;
            plan.departments = (!platforms_only).then_some(departments);
            plan.subjects = subjects;
            plan.clock = clock;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(credit_gateway::sandbox::serve::run(
                &settings,
                plan,
                |p, d| {
                    println!("沙箱平台 sandbox platforms: http://{p}/platforms/{{provincial|national}}/{{json|xml}}  (stats: http://{p}/sandbox/stats)");
                    if let Some(d) = d {
                        println!("沙箱部门 sandbox departments: http://{d}/tax/api/arrears  http://{d}/court/api/dishonest");
                    }
                },
                async {
                    let _ = tokio::signal::ctrl_c().await;
                },
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deliveries { command, status, limit, json } => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(deliveries_command(&settings, command, status, limit, json, &clock))
        }
        Command::Feeds { command, json } => {
            use credit_gateway::feed::report::{FeedsAction, feeds_command};
            let action = match command {
                None => FeedsAction::List,
                Some(FeedsCommand::Missing) => FeedsAction::Missing,
                Some(FeedsCommand::Repairs) => FeedsAction::Repairs,
                Some(FeedsCommand::Rejects) => FeedsAction::Rejects,
                Some(FeedsCommand::Pull { feed }) => FeedsAction::Pull(feed),
            };
            let settings = std::sync::Arc::new(Settings::load(&cli.config)?);
            let runtime = tokio::runtime::Runtime::new()?;
            let text = runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                let text = feeds_command(settings, &store, action, json, clock.now()).await;
                store.close().await;
                anyhow::Ok(text?)
            })?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Connectors { command, json } => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(connectors_command(&settings, command.unwrap_or(ConnectorsCommand::List), json, &clock))
        }
        Command::Calendar { command } => {
            let settings = Settings::load(&cli.config)?;
            calendar_command(&settings, command, &clock)
        }
        Command::Report { format, department, month } => {
            let settings = Settings::load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                let today = clock.today();
                let figures = store.figures(today, month.as_deref(), department.as_deref()).await?;
                store.close().await;
                let text = match format.as_str() {
                    "table" => credit_gateway::report::table(&figures),
                    "csv" => credit_gateway::report::csv(&figures),
                    "json" => credit_gateway::report::json(&figures),
                    other => anyhow::bail!("unknown format {other:?} (expected table, csv or json)"),
                };
                print!("{text}");
                if format == "json" {
                    println!();
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Deadlines { status, department, item, limit, json } => {
            let settings = Settings::load(&cli.config)?;
            let status = match status {
                Some(s) => {
                    Some(credit_gateway::deadline::Status::parse(&s).with_context(|| format!("unknown status {s:?}"))?)
                }
                None => None,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                let today = clock.today();
                let filter = credit_gateway::store::DeadlineFilter { department, item, status, limit };
                let rows = store.deadlines(today, &filter).await?;
                store.close().await;
                if json {
                    println!("{}", serde_json::to_string(&rows)?);
                } else {
                    for r in rows {
                        let key = r.business_key.replace(credit_gateway::record::KEY_SEPARATOR, " | ");
                        let deadline = r.deadline.unwrap_or_default();
                        let mark = if r.provisional { " (暂定)" } else { "" };
                        println!(
                            "{}\t{}\t{}\t{deadline}{mark}\t{}\t{key}",
                            r.status.zh(),
                            r.department,
                            r.item,
                            r.decision_date.unwrap_or_default()
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Ledger { command: LedgerCommand::Import { file } } => {
            let settings = Settings::load(&cli.config)?;
            let entries =
                credit_gateway::ledger::read(&file, &settings).with_context(|| format!("{}", file.display()))?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                store.import_ledger(&entries, &file.display().to_string(), clock.now()).await?;
                store.close().await;
                println!("imported {} ledger lines from {}", entries.len(), file.display());
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Demo { dir, listen, platforms, departments, every, rows } => {
            let opts = credit_gateway::demo::DemoOptions {
                dir: dir.clone(),
                listen,
                platforms,
                departments,
                every: std::time::Duration::from_secs(every.max(1)),
                rows,
                clock,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(credit_gateway::demo::run(
                &cli.config,
                opts,
                |login| {
                    print!("{}", credit_gateway::demo::banner(login, &dir));
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                },
                shutdown_signal(),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(cli::bench::run(&cli.config, &clock, command))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn users_command(
    settings: &Settings,
    command: UsersCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let store = Store::connect(&settings.gateway.database_url).await?;
    match command {
        UsersCommand::Add { name, role, department, password } => {
            let departments = &settings.departments;
            let user = credit_gateway::web::auth::add_user(
                &store,
                departments,
                &name,
                &role,
                department.as_deref(),
                password.as_deref(),
                now,
            )
            .await?;
            // Shown once, on the operator's terminal; the store keeps only hashes.
            println!("user {name} ({role})\npassword: {}\napi token: {}", user.password, user.api_token);
        }
        UsersCommand::List => {
            for u in store.users().await? {
                println!("{}\t{}\t{}", u.name, u.role, u.department.as_deref().unwrap_or("-"));
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn deliveries_command(
    settings: &Settings,
    command: Option<DeliveriesCommand>,
    status: Option<String>,
    limit: i64,
    json: bool,
    clock: &Clock,
) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&settings.gateway.database_url).await?;
    store.sync_destination_items(&settings.destination_items()).await?;
    match command {
        None => {
            let rows = store.deliveries(status.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (destination, status, n) in store.delivery_counts().await? {
                    println!("{destination}\t{status}\t{n}");
                }
                println!();
                println!("编号\t记录\t版本\t目的地\t操作\t状态\t尝试次数\t下次尝试\t最近错误/退回原因");
                for r in rows {
                    let why = r.reason.or(r.last_error).unwrap_or_default();
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.record_id,
                        r.version,
                        r.destination,
                        r.operation,
                        r.status,
                        r.attempts,
                        r.next_attempt_at,
                        why
                    );
                }
            }
        }
        Some(DeliveriesCommand::Retry { ids, dead }) => {
            let n = if dead {
                store.retry_deliveries(None, clock.now()).await?
            } else {
                store.retry_deliveries(Some(&ids), clock.now()).await?
            };
            println!("{n} deliveries queued again");
        }
        Some(DeliveriesCommand::Push { destination }) => {
            let counts = credit_gateway::delivery::worker::push_due(settings, &store, &destination, clock).await?;
            println!("{}", serde_json::to_string(&counts)?);
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn connectors_command(
    settings: &Settings,
    command: ConnectorsCommand,
    json: bool,
    clock: &Clock,
) -> anyhow::Result<ExitCode> {
    use credit_gateway::connector::runner;
    let store = Store::connect(&settings.gateway.database_url).await?;
    let code = match command {
        ConnectorsCommand::List => {
            let list = runner::statuses(settings, &store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("连接器\t类型\t部门\t目录\t计划\t上次运行\t状态\t累计行数\t错误次数\t下次运行\t最近错误");
                for c in list {
                    let h = &c.health;
                    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    println!(
                        "{}{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        c.name,
                        if c.enabled { "" } else { " (停用)" },
                        c.kind.as_str(),
                        c.department,
                        c.item,
                        dash(&c.schedule),
                        dash(&h.last_run_at),
                        dash(&h.last_status),
                        h.rows_total,
                        h.errors_total,
                        dash(&h.next_run_at),
                        dash(&h.last_error),
                    );
                }
            }
            ExitCode::SUCCESS
        }
        ConnectorsCommand::Run { name } => {
            let report = runner::run_once(settings, &store, &name, clock).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report.error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
    };
    store.close().await;
    Ok(code)
}

async fn ingest_command(
    settings: &Settings,
    connector: &str,
    json: bool,
    files: &[PathBuf],
    clock: &Clock,
) -> anyhow::Result<ExitCode> {
    if settings.connector(connector).is_none() {
        let known: Vec<&str> = settings.connectors.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!("unknown connector {connector:?} (known: {})", known.join(", "));
    }
    let store = Store::connect(&settings.gateway.database_url).await.context("opening the store")?;
    let mut code = ExitCode::SUCCESS;
    for file in files {
        let progress = !json && std::io::stderr().is_terminal();
        let opts = IngestOptions { report_path: None, progress, clock: clock.clone(), source: None };
        match ingest_file(settings, &store, connector, file, &opts).await {
            Ok(summary) if json => println!("{}", serde_json::to_string(&summary)?),
            Ok(summary) => print_summary(&summary),
            Err(IngestError::Unreadable { path, reason, reason_zh, report }) => {
                code = ExitCode::FAILURE;
                if json {
                    let obj =
                        serde_json::json!({ "file": path, "error": reason, "reason": reason_zh, "report": report });
                    println!("{obj}");
                } else {
                    eprintln!("{}: refused: {reason_zh} ({reason})", path.display());
                    if let Some(report) = report {
                        eprintln!("  error report for the department: {}", report.display());
                    }
                }
            }
            Err(e) => return Err(e).with_context(|| format!("ingesting {}", file.display())),
        }
    }
    store.close().await;
    Ok(code)
}

/// Generates one file per market-regulation connector (GBK CSV and a workbook with a title
/// row, as departments send them) and ingests them.
/// Resolves on Ctrl-C or SIGTERM (what systemd sends).
async fn shutdown_signal() {
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

fn calendar_command(settings: &Settings, command: CalendarCommand, clock: &Clock) -> anyhow::Result<ExitCode> {
    let calendar = &settings.calendar;
    match command {
        CalendarCommand::IsWorkday { dates } => {
            for d in dates {
                let w = calendar.is_workday(d);
                let mark = if w.provisional { " provisional" } else { "" };
                println!("{d}\t{}{mark}", if w.workday { "workday" } else { "off" });
            }
        }
        CalendarCommand::Deadline { working_days, dates } => {
            for d in dates {
                let deadline = calendar.add_working_days(d, working_days);
                let mark = if deadline.provisional { " provisional" } else { "" };
                println!("{d}\t{}{mark}", deadline.date);
            }
        }
        CalendarCommand::Recompute => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let store = Store::connect(&settings.gateway.database_url).await?;
                let changed = store.recompute_provisional(calendar, &settings.deadlines).await?;
                let left = store.provisional_count().await?;
                store.close().await;
                println!("recomputed {changed} provisional deadlines; {left} still provisional");
                anyhow::Ok(())
            })?;
        }
    }
    let year = chrono::Datelike::year(&clock.today());
    for missing in calendar.missing_years(year, year + 1) {
        eprintln!(
            "warning: no calendar file for {missing}: deadlines reaching into it are provisional (weekends only)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &IngestSummary) {
    let how = [s.encoding.as_deref(), s.sheet.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    println!("{} ({how}) via {}", s.file.display(), s.connector);
    println!(
        "  rows {}  accepted {} (new {}, new versions {})  unchanged {}  rejected {}  skipped {}  warnings {}",
        s.rows, s.accepted, s.new_records, s.new_versions, s.unchanged, s.rejected, s.skipped, s.warnings
    );
    let secs = s.elapsed_ms as f64 / 1000.0;
    if secs > 0.0 {
        println!("  {:.1} s, {:.0} rows/s", secs, s.rows as f64 / secs);
    }
    if !s.missing_columns.is_empty() {
        println!("  optional columns not in the file: {}", s.missing_columns.join("、"));
    }
    if !s.unused_columns.is_empty() {
        println!("  columns not read: {}", s.unused_columns.join("、"));
    }
    if let Some(report) = &s.report {
        println!("  error report for the department: {}", report.display());
    }
    for e in s.errors.iter().take(10) {
        let field = e.field_name.as_deref().unwrap_or("整行");
        println!("    row {}  {field}: {}", e.row, e.reason);
    }
    let more = s.errors.len().saturating_sub(10) as u64 + s.errors_omitted;
    if more > 0 {
        println!("    … and {more} more in the report");
    }
}
