//! `credit-gateway objections`: register an objection (异议) against a record, list and show
//! cases, record the department's answer, the reply to the applicant, and close.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::objection::Status;
use credit_gateway::objection::handle::{self, Decision, ObjectionError, Registration, Target};
use credit_gateway::store::{ObjectionRow, Store};

/// Who the audit log names for steps taken on the command line.
const CLI_USER: &str = "命令行";

#[derive(Subcommand)]
pub enum ObjectionsCommand {
    /// Register an objection received today (the day of --now in Asia/Shanghai); it is routed to
    /// the department that provided the record.
    Add {
        /// The record's id (as on its page /records/ID).
        #[arg(long, required_unless_present_any = ["wsh", "subject"], conflicts_with_all = ["wsh", "subject"])]
        record: Option<i64>,
        /// Or the decision number (文书号): one case per record that has it.
        #[arg(long, conflicts_with = "subject")]
        wsh: Option<String>,
        /// Or the subject's credit code or registered name: one case per record about it.
        #[arg(long)]
        subject: Option<String>,
        /// 信息错误, 遗漏, 重复公示, 不应公示, 超期公示, 已修复未更新 or 其他 (config/objections.toml).
        #[arg(long)]
        ground: String,
        #[arg(long)]
        applicant: String,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long, default_value = "")]
        text: String,
        /// Suspend the record's publication while the case is open (default: config/objections.toml).
        #[arg(long, conflicts_with = "no_suspend")]
        suspend: bool,
        #[arg(long)]
        no_suspend: bool,
        #[arg(long)]
        json: bool,
    },
    /// Cases, newest first.
    List {
        /// open, upheld, rejected or closed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        record: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// The department's answer: --upheld (with --outcome correction|withdrawal|repair) or --rejected.
    Answer {
        id: i64,
        #[arg(long, required_unless_present = "rejected", conflicts_with = "rejected")]
        upheld: bool,
        #[arg(long)]
        rejected: bool,
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// The office's reply to the applicant.
    Reply {
        id: i64,
        #[arg(long)]
        text: String,
        #[arg(long)]
        json: bool,
    },
    Close {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct ObjectionsArgs {
    #[command(subcommand)]
    command: ObjectionsCommand,
}

pub fn run(config: &Path, clock: &Clock, args: ObjectionsArgs) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    super::with_store(&settings, async |store| match step(&settings, store, clock, args.command).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => {
            eprintln!("错误：{e}");
            Ok(ExitCode::FAILURE)
        }
    })
}

async fn step(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    command: ObjectionsCommand,
) -> Result<(), ObjectionError> {
    let now = clock.now();
    let audit = async |action: &str, o: &ObjectionRow| {
        store.audit(CLI_USER, action, &format!("objection:{}:record:{}", o.id, o.record_id), now).await
    };
    match command {
        ObjectionsCommand::Add {
            record,
            wsh,
            subject,
            ground,
            applicant,
            contact,
            text,
            suspend,
            no_suspend,
            json,
        } => {
            let target = match (record, wsh, subject) {
                (Some(id), _, _) => Target::Record(id),
                (None, Some(number), _) => Target::Document(number),
                (None, None, Some(subject)) => Target::Subject(subject),
                (None, None, None) => unreachable!("clap requires --record, --wsh or --subject"),
            };
            let suspend = (suspend || no_suspend).then_some(suspend);
            let r = Registration { target, ground, applicant, contact, text, suspend, by: CLI_USER.into() };
            for case in handle::register(settings, &settings.calendar, store, now, &r).await? {
                audit("objection:add", &case).await?;
                show(settings, store, clock, &case, json).await?;
            }
        }
        ObjectionsCommand::List { status, department, record, json } => {
            let status = match status.as_deref() {
                Some(s) => Some(Status::parse(s).ok_or_else(|| ObjectionError::UnknownStatus(s.to_string()))?),
                None => None,
            };
            let cases = handle::list(store, department.as_deref(), status, record).await?;
            let rules = &settings.objections;
            if json {
                let list: Vec<_> = cases.iter().map(|o| handle::summary(rules, o)).collect();
                print(&list);
                return Ok(());
            }
            super::print_header(&[
                "编号",
                "记录",
                "部门",
                "事由",
                "受理日期",
                "答复期限",
                "状态",
                "答复日期",
                "是否按时",
            ]);
            for o in &cases {
                let s = handle::summary(rules, o);
                let name = settings.departments.get(&o.department).map_or(o.department.as_str(), |d| d.name.as_str());
                let on_time = match s.on_time {
                    Some(true) => "按时",
                    Some(false) => "逾期",
                    None => "",
                };
                let status = Status::parse(s.status).map_or("", Status::zh);
                let answered = s.answered_on.as_deref().unwrap_or("");
                super::print_row(&[
                    &s.id,
                    &s.record_id,
                    &name,
                    &s.ground,
                    &s.received,
                    &s.due,
                    &status,
                    &answered,
                    &on_time,
                ]);
            }
        }
        ObjectionsCommand::Show { id, json } => {
            show(settings, store, clock, &handle::find(store, None, id).await?, json).await?
        }
        ObjectionsCommand::Answer { id, upheld, rejected: _, outcome, text, json } => {
            let case = handle::answer(
                store,
                None,
                now,
                id,
                &Decision { upheld, outcome: outcome.as_deref(), text: &text },
                CLI_USER,
            )
            .await?;
            audit(if upheld { "objection:upheld" } else { "objection:rejected" }, &case).await?;
            show(settings, store, clock, &case, json).await?;
        }
        ObjectionsCommand::Reply { id, text, json } => {
            let case = handle::reply(store, now, id, &text).await?;
            audit("objection:reply", &case).await?;
            show(settings, store, clock, &case, json).await?;
        }
        ObjectionsCommand::Close { id, json } => {
            let case = handle::close(store, now, id).await?;
            audit("objection:close", &case).await?;
            show(settings, store, clock, &case, json).await?;
        }
    }
    Ok(())
}

fn print(value: &impl serde::Serialize) {
    if let Err(e) = super::print_json(value, false) {
        eprintln!("错误：{e}");
    }
}

/// One case: a JSON object, or its fields one per line.
async fn show(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    o: &ObjectionRow,
    json: bool,
) -> Result<(), ObjectionError> {
    let d = handle::detail_with_causes(settings, &settings.calendar, store, clock.today(), o, false).await?;
    if json {
        print(&d);
        return Ok(());
    }
    let s = &d.summary;
    let status = Status::parse(s.status).map_or("", Status::zh);
    let lines: [(&str, String); 12] = [
        ("异议编号", s.id.to_string()),
        ("记录", format!("{}（{}，第 {} 版）", s.record_id, d.item, d.record_version)),
        ("提供部门", d.department_name.clone()),
        ("事由", s.ground.clone()),
        ("申请人", format!("{} {}", d.applicant, d.contact.as_deref().unwrap_or(""))),
        ("受理日期", s.received.clone()),
        ("答复期限", format!("{}（{}）", s.due, d.deadline_status)),
        ("状态", status.to_string()),
        ("暂停公示", if d.suspended { "是".into() } else { "否".into() }),
        (
            "部门答复",
            d.answer_text
                .clone()
                .map_or_else(String::new, |t| format!("{} {t}", s.answered_on.as_deref().unwrap_or(""))),
        ),
        (
            "答复申请人",
            d.reply_text.clone().map_or_else(String::new, |t| format!("{} {t}", d.replied_on.as_deref().unwrap_or(""))),
        ),
        ("办结日期", d.closed_on.clone().unwrap_or_default()),
    ];
    for (k, v) in lines {
        super::print_row(&[&k, &v]);
    }
    for cause in &d.could_have_caught {
        super::print_row(&[&"可防止的原因", cause]);
    }
    Ok(())
}
