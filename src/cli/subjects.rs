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
    /// A subject's credit file (信用档案): by credit code, or by name (whole or part, 有限公司 /
    /// 有限责任公司 and bracket forms alike). Several subjects match: they are listed.
    Show {
        /// 统一社会信用代码 or name.
        query: String,
        /// The file as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Path, clock: &Clock, command: SubjectsCommand) -> anyhow::Result<ExitCode> {
    let source = match command {
        SubjectsCommand::Import { source } => source,
        SubjectsCommand::Show { query, json } => return show(config, clock, &query, json),
    };
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

fn show(config: &Path, clock: &Clock, query: &str, json: bool) -> anyhow::Result<ExitCode> {
    use credit_gateway::credit_file;
    let settings = super::settings(config)?;
    super::with_store(&settings, async |store| {
        store.link_subjects(&settings.catalogue).await?;
        let today = clock.today();
        let code = query.trim().to_ascii_uppercase();
        let mut file = credit_file::credit_file(&settings, store, &code, None, today).await?;
        if file.is_none() {
            let hits = credit_file::search(&settings, store, query, None, credit_file::SEARCH_LIMIT).await?;
            let key = credit_gateway::subject::search_key(query);
            let exact: Vec<_> = hits.iter().filter(|h| credit_gateway::subject::search_key(&h.name) == key).collect();
            let chosen = match (&hits[..], &exact[..]) {
                ([one], _) => Some(one.credit_code.clone()),
                (_, [one]) => Some(one.credit_code.clone()),
                _ => None,
            };
            match chosen {
                Some(c) => file = credit_file::credit_file(&settings, store, &c, None, today).await?,
                None if hits.is_empty() => {
                    eprintln!("未找到主体：{query}");
                    return Ok(ExitCode::FAILURE);
                }
                None => {
                    if json {
                        super::print_json(&hits, true)?;
                    } else {
                        println!("找到 {} 个主体，请以统一社会信用代码查看：", hits.len());
                        super::print_header(&["统一社会信用代码", "名称", "记录数"]);
                        for h in &hits {
                            super::print_row(&[&h.credit_code, &h.name, &h.records]);
                        }
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        let Some(f) = file else {
            eprintln!("未找到主体：{query}");
            return Ok(ExitCode::FAILURE);
        };
        if json {
            super::print_json(&f, true)?;
            return Ok(ExitCode::SUCCESS);
        }
        println!("信用档案：{}（{}）", f.name, f.credit_code);
        println!(
            "主体类别：{}；登记地：{}",
            f.kind.as_deref().unwrap_or("—"),
            f.region_name.as_deref().or(f.region.as_deref()).unwrap_or("—")
        );
        for n in &f.names {
            println!(
                "名称：{}（{} 至 {}，{} 条记录）",
                n.name,
                n.first.as_deref().unwrap_or("—"),
                n.last.as_deref().unwrap_or("—"),
                n.records
            );
        }
        match &f.grade {
            Some(g) => println!("信用等级：{}（{}），评定日 {}；{}", g.grade, g.name, g.as_of, g.rule),
            None => println!("信用等级：尚未评定"),
        }
        super::print_header(&["记录", "信息类别", "部门", "决定日期", "状态", "摘要"]);
        for r in &f.records {
            super::print_row(&[
                &r.id,
                &r.item_name,
                &r.department_name,
                &r.decision_date.as_deref().unwrap_or(""),
                &r.status.join("、"),
                &r.summary,
            ]);
        }
        if !f.feed_records.is_empty() {
            println!("上级平台回流：");
            for r in &f.feed_records {
                super::print_row(&[&r.id, &r.item_name, &r.feed, &r.received_at, &r.status, &r.summary]);
            }
        }
        if !f.grades.is_empty() {
            println!("等级历史：");
            for g in &f.grades {
                super::print_row(&[&g.as_of, &g.previous.as_deref().unwrap_or("—"), &g.grade, &g.rule]);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
