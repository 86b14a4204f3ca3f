//! `credit-gateway tokens`: ends a user's sessions and API tokens (a token that leaked, a
//! person who left); `users reset` hands out new ones.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use credit_gateway::web::auth::revoke_tokens;

#[derive(Subcommand)]
pub enum TokensCommand {
    /// End every session and API token of a user at once; the user stays (`users reset` for new ones).
    Revoke { name: String },
}

pub fn run(config: &Path, command: TokensCommand) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config)?;
    super::with_store_creating(&settings, async |store| {
        match command {
            TokensCommand::Revoke { name } => {
                let ended = revoke_tokens(store, &name).await?;
                println!("已吊销用户 {name} 的 {ended} 个会话和 API 令牌");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
