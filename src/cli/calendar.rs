//! `credit-gateway calendar`: working days (statutory holidays, 调休 make-up days) and deadlines.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::clock::Clock;

#[derive(Subcommand)]
pub enum CalendarCommand {
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

/// Answers, then warns on stderr about this year's and next year's missing calendar files.
pub fn run(config: &Path, clock: &Clock, command: CalendarCommand) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
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
            super::with_store(&settings, async |store| {
                let changed = store.recompute_provisional(calendar, &settings.deadlines).await?;
                let left = store.provisional_count().await?;
                println!("recomputed {changed} provisional deadlines; {left} still provisional");
                Ok(())
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
