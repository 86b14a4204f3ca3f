//! `credit-gateway users`: dashboard and API users: add one, reset its password and token,
//! remove it, or list them. A new password and API token are printed once; the store keeps
//! only hashes.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::clock::Clock;
use credit_gateway::web::auth::{NewUser, Role, add_user_with_lifetime, remove_user, reset_user};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a user, or re-add one (its old sessions and tokens end): role admin, ops or
    /// department (with --department).
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
    /// A new password and API token for a user, printed once; its old sessions and tokens end.
    Reset {
        name: String,
        /// The password; default: a random one.
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove a user with its sessions and tokens.
    Remove { name: String },
    /// Name, role and department of every user.
    List,
}

pub fn run(config: &Path, clock: &Clock, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    let lifetime = settings.gateway.api_token_lifetime;
    super::with_store_creating(&settings, async |store| {
        match command {
            UsersCommand::Add { name, role, department, password } => {
                let departments = &settings.departments;
                let user = add_user_with_lifetime(
                    store,
                    departments,
                    &name,
                    &role,
                    department.as_deref(),
                    password.as_deref(),
                    lifetime,
                    clock.now(),
                )
                .await?;
                print_once(&name, &role, &user);
            }
            UsersCommand::Reset { name, password } => {
                let user = reset_user(store, &name, password.as_deref(), lifetime, clock.now()).await?;
                let role = store.user(&name).await?.map(|u| u.role).unwrap_or_default();
                print_once(&name, &role, &user);
            }
            UsersCommand::Remove { name } => {
                remove_user(store, &name).await?;
                println!("已删除用户 {name}，其会话和 API 令牌均已失效");
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

/// Shown once, on the operator's terminal: one `label：value` per line.
fn print_once(name: &str, role: &str, user: &NewUser) {
    let role = match Role::parse(role) {
        Some(known) => known.zh(),
        None => role,
    };
    println!("用户：{name}（{role}）");
    println!("密码：{}", user.password);
    println!("API 令牌：{}", user.api_token);
    println!("令牌有效至：{}", user.api_token_expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
}
