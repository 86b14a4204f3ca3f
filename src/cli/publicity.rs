//! `credit-gateway publicity`: penalties' publicity periods (list, show), credit repairs
//! entered by the credit office (repair) and the 超期公示 audit.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use credit_gateway::clock::Clock;
use credit_gateway::early_end::{RepairError, repair};
use credit_gateway::publicity::{Listing, Status};
use credit_gateway::publicity_view;

#[derive(Args)]
pub struct PublicityArgs {
    #[command(subcommand)]
    command: Option<PublicityCommand>,
    /// Only this status: published, ending, ended, held, too-short, too-long, withdrawal-due, withdrawal-late.
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum PublicityCommand {
    /// One record's publicity with its repair and revocation history.
    Show {
        record: i64,
        #[arg(long)]
        json: bool,
    },
    /// Enter a credit repair (信用修复) decided by the credit office: the record is withdrawn
    /// wherever it is published. Refused before the minimum publicity period ends.
    Repair {
        record: i64,
        /// The repair decision's date, YYYY-MM-DD.
        #[arg(long)]
        decided: NaiveDate,
        /// The repair decision's reference (文号).
        #[arg(long = "ref")]
        reference: String,
    },
    /// 超期公示 audit: records still published past their maximum, withdrawals pushed before
    /// the minimum without a repair or revocation.
    Audit {
        #[arg(long)]
        json: bool,
    },
}

fn or_dash<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), ToString::to_string)
}

fn print_listing_header() {
    super::print_header(&[
        "编号",
        "文书号",
        "相对人",
        "决定日期",
        "规则",
        "失信程度",
        "领域",
        "最短至",
        "最长至",
        "部门截止期",
        "计划撤下",
        "状态",
    ]);
}

fn print_listing(l: &Listing) {
    let class = match (l.class, l.class_defaulted) {
        (Some(c), true) => format!("{}（按规则认定）", c.zh()),
        (Some(c), false) => c.zh().to_string(),
        (None, _) => "-".to_string(),
    };
    super::print_row(&[
        &l.id,
        &or_dash(&l.wsh),
        &or_dash(&l.subject),
        &l.decided,
        &l.regime,
        &class,
        &or_dash(&l.sector),
        &l.min_end,
        &l.max_end,
        &or_dash(&l.department_end),
        &or_dash(&l.planned_end),
        &l.status.zh(),
    ]);
}

pub fn run(config: &Path, clock: &Clock, args: PublicityArgs) -> anyhow::Result<ExitCode> {
    let PublicityArgs { command, status, json } = args;
    let settings = super::settings(config)?;
    let today = clock.today();
    super::with_store(&settings, async |store| {
        match command {
            None => {
                let filter = match status {
                    Some(s) => Some(Status::parse(&s).with_context(|| {
                        format!("未知的状态 {s:?}（可用：published, ending, ended, held, too-short, too-long, withdrawal-due, withdrawal-late）")
                    })?),
                    None => None,
                };
                let rows = publicity_view::list(&settings, store, today, filter, None).await?;
                if json {
                    super::print_json(&rows, false)?;
                    return Ok(ExitCode::SUCCESS);
                }
                print_listing_header();
                for l in &rows {
                    print_listing(l);
                }
            }
            Some(PublicityCommand::Show { record, json }) => {
                let Some(shown) = publicity_view::show(&settings, store, today, record).await? else {
                    eprintln!("记录 {record} 不存在或没有公示期限");
                    return Ok(ExitCode::FAILURE);
                };
                if json {
                    super::print_json(&shown, true)?;
                    return Ok(ExitCode::SUCCESS);
                }
                print_listing_header();
                print_listing(&shown.listing);
                if let Some(due) = shown.withdrawal.due_on {
                    let done = or_dash(&shown.withdrawal.done_on);
                    println!("\n撤下期限：{due}，完成：{done}");
                }
                if !shown.history.is_empty() {
                    println!();
                    super::print_header(&["事件", "来源", "日期", "文号", "原因", "撤下期限"]);
                    for e in &shown.history {
                        let kind = match e.kind.as_str() {
                            "repair" => "信用修复",
                            "delete" => "删除",
                            _ => "撤销",
                        };
                        let source = if e.source == "office" { "信用办" } else { "部门" };
                        super::print_row(&[
                            &kind,
                            &source,
                            &e.decided,
                            &or_dash(&e.reference),
                            &or_dash(&e.reason),
                            &e.due_on,
                        ]);
                    }
                }
                if !shown.withdrawals.is_empty() {
                    println!();
                    super::print_header(&["目的地", "操作", "状态", "推送时间", "完成时间"]);
                    for w in &shown.withdrawals {
                        super::print_row(&[
                            &w.destination,
                            &w.operation,
                            &w.status,
                            &or_dash(&w.pushed_at),
                            &or_dash(&w.done_at),
                        ]);
                    }
                }
            }
            Some(PublicityCommand::Repair { record, decided, reference }) => {
                match repair(&settings, store, record, decided, &reference, clock.now()).await {
                    Ok(r) => {
                        println!(
                            "已录入信用修复：记录 {record}，{} 个平台待撤下，撤下期限 {}",
                            r.withdrawals, r.due_on
                        );
                    }
                    Err(RepairError::Refused(why)) => {
                        eprintln!("拒绝：{}", why.zh());
                        return Ok(ExitCode::FAILURE);
                    }
                    Err(RepairError::Store(e)) => return Err(e.into()),
                }
            }
            Some(PublicityCommand::Audit { json }) => {
                let audit = publicity_view::audit(&settings, store, today).await?;
                if json {
                    super::print_json(&audit, true)?;
                    return Ok(ExitCode::SUCCESS);
                }
                println!("超期公示（最长期限届满仍在公示）：{} 条", audit.past_maximum.len());
                for f in &audit.past_maximum {
                    super::print_row(&[&f.id, &or_dash(&f.wsh), &f.reason]);
                }
                println!("最短期限届满前撤下（无修复或撤销）：{} 条", audit.withdrawn_early.len());
                for f in &audit.withdrawn_early {
                    super::print_row(&[&f.id, &or_dash(&f.wsh), &f.reason]);
                }
                if !audit.past_maximum.is_empty() || !audit.withdrawn_early.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
