//! `credit-gateway users`: dashboard and API users: add one, or list them.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::clock::Clock;
use credit_gateway::web::auth::add_user;

#[derive(Subcommand)]
pub enum UsersCommand {
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

pub fn run(config: &Path, clock: &Clock, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    super::with_store(&settings, async |store| {
        match command {
            UsersCommand::Add { name, role, department, password } => {
                let departments = &settings.departments;
                let user =
                    add_user(store, departments, &name, &role, department.as_deref(), password.as_deref(), clock.now())
                        .await?;
                // Shown once, on the operator's terminal; the store keeps only hashes.
                println!("user {name} ({role})\npassword: {}\napi token: {}", user.password, user.api_token);
            }
            UsersCommand::List => {
                for u in store.users().await? {
                    super::print_row(&[&u.name, &u.role, &u.department.as_deref().unwrap_or("-")]);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
