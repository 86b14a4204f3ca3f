//! `credit-gateway calendar`: working days (statutory holidays, 调休 make-up days) and deadlines.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::clock::Clock;

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// One line per date: the date, a tab, and 工作日 or 休息日 (a tab and 暂定 without the year's file).
    IsWorkday {
        #[arg(required = true)]
        dates: Vec<chrono::NaiveDate>,
    },
    /// One line per date: the date, a tab, the deadline, and a tab and 暂定 where it is.
    Deadline {
        #[arg(long, default_value_t = 7)]
        working_days: u32,
        #[arg(required = true)]
        dates: Vec<chrono::NaiveDate>,
    },
    /// Recompute every provisional deadline with the calendar files as they are now.
    Recompute,
}

/// Marks an answer computed without the year's calendar file (weekends only).
const PROVISIONAL: &str = "\t暂定";

/// Answers, then warns on stderr about this year's and next year's missing calendar files.
pub fn run(config: &Path, clock: &Clock, command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    let calendar = &settings.calendar;
    match command {
        CalendarCommand::IsWorkday { dates } => {
            for d in dates {
                let w = calendar.is_workday(d);
                let mark = if w.provisional { PROVISIONAL } else { "" };
                println!("{d}\t{}{mark}", if w.workday { "工作日" } else { "休息日" });
            }
        }
        CalendarCommand::Deadline { working_days, dates } => {
            for d in dates {
                let deadline = calendar.add_working_days(d, working_days);
                let mark = if deadline.provisional { PROVISIONAL } else { "" };
                println!("{d}\t{}{mark}", deadline.date);
            }
        }
        CalendarCommand::Recompute => {
            super::with_store(&settings, async |store| {
                let changed = store.recompute_provisional(calendar, &settings.deadlines).await?;
                let left = store.provisional_count().await?;
                println!("已重算 {changed} 个暂定期限；仍暂定 {left} 个");
                Ok(())
            })?;
        }
    }
    let year = chrono::Datelike::year(&clock.today());
    for missing in calendar.missing_years(year, year + 1) {
        eprintln!(
            "警告：缺少 {missing} 年的节假日文件（config/calendar/{missing}.toml）：落入该年的期限为暂定（只计周末）"
        );
    }
    Ok(ExitCode::SUCCESS)
}
