//! `credit-gateway subjects import`: the provincial platform's subject base library (主体库),
//! from a file or the URL the platform (or the sandbox) serves it at.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use credit_gateway::clock::Clock;

#[derive(Subcommand)]
pub enum SubjectsCommand {
    /// Replace the kept library with this one (CSV 名称/name, 统一社会信用代码/credit_code): a
    /// file, or an http(s) URL such as the sandbox's /sandbox/subjects.
    Import { source: String },
}

pub fn run(config: &Path, clock: &Clock, command: SubjectsCommand) -> anyhow::Result<ExitCode> {
    let SubjectsCommand::Import { source } = command;
    let settings = super::settings(config)?;
    let bytes: Vec<u8> = if source.starts_with("http://") || source.starts_with("https://") {
        super::runtime()?.block_on(async {
            credit_gateway::connector::http::install_crypto_provider();
            let answer = reqwest::get(&source).await?.error_for_status()?;
            Ok::<_, reqwest::Error>(answer.bytes().await?.to_vec())
        })?
    } else {
        std::fs::read(&source).with_context(|| source.clone())?
    };
    let library = credit_gateway::subject_library::read(bytes.as_slice()).map_err(|e| anyhow::anyhow!(e.zh()))?;
    let kept = super::with_store_creating(&settings, async |store| {
        Ok(store.replace_subject_library(&library.subjects, &source, clock.now()).await?)
    })?;
    println!("主体库：{kept} 个主体（跳过 {} 行无效代码或名称），来源 {source}", library.skipped);
    Ok(ExitCode::SUCCESS)
}
