//! The records list (到期) at scale's terms: keyset paging (`after`) returns exactly the rows
//! the offset pages do, in the same order, on both backends; a search by credit code, name
//! fragment or 文书号, which reads the subject links and the business keys' index, finds what a
//! search through every record's content found, records not linked yet included.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::record::KEY_SEPARATOR;
use credit_gateway::sim::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};
use credit_gateway::store::{ListFilter, ListKey, ListOrder, ListRow, ListStatus, Store};
use credit_gateway::web::auth;
use credit_gateway::web::lists::subject_of;

use crate::support::*;

/// Ingests `rows` penalties numbered from `first_number`, decided over 2024 and 2025.
async fn ingest(settings: &Settings, store: &Store, root: &Path, seed: u64, rows: u64, first_number: u64) {
    let file = root.join(format!("penalties-{seed}.csv"));
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows,
        seed,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: NaiveDate::from_ymd_opt(2024, 11, 1).unwrap(),
        days: 120,
        first_number,
    };
    write_sample(&spec, &file).unwrap();
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    ingest_file(settings, store, "market-penalties", &file, &opts).await.unwrap();
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 20).unwrap()
}

/// Every row of `f`, by offset pages of 7 and by keyset pages of 7.
async fn both_ways(store: &Store, f: &ListFilter) -> (Vec<i64>, Vec<i64>) {
    let (mut by_offset, mut by_key) = (Vec::new(), Vec::new());
    for offset in (0..).step_by(7) {
        let page = store.record_page(today(), &ListFilter { offset, limit: 7, ..f.clone() }).await.unwrap();
        by_offset.extend(page.iter().map(|r| r.id));
        if page.len() < 7 {
            break;
        }
    }
    let mut after: Option<ListKey> = None;
    loop {
        let page =
            store.record_page(today(), &ListFilter { after: after.clone(), limit: 7, ..f.clone() }).await.unwrap();
        by_key.extend(page.iter().map(|r| r.id));
        match page.last() {
            Some(last) if page.len() == 7 => after = Some(ListKey::of(last)),
            _ => break,
        }
    }
    (by_offset, by_key)
}

async fn keyset_and_search(store: Store, dir: &Path) {
    let settings = Settings::load(&config_file()).unwrap();
    ingest(&settings, &store, dir, 11, 400, 0).await;
    store.link_subjects(&settings.catalogue).await.unwrap();

    // Keyset pages are the offset pages, for each status and either deadline order.
    for status in [ListStatus::Open, ListStatus::All, ListStatus::One(credit_gateway::deadline::Status::Overdue)] {
        for order in [ListOrder::Deadline, ListOrder::DeadlineDesc] {
            let f = ListFilter { status, order, ..ListFilter::default() };
            let total = store.record_count(today(), &f).await.unwrap();
            let (by_offset, by_key) = both_ways(&store, &f).await;
            assert!(total > 7, "{status:?}: too few records to page ({total})");
            assert_eq!(by_offset.len() as i64, total, "{status:?} {order:?}: offset pages miss rows");
            assert_eq!(by_key, by_offset, "{status:?} {order:?}: keyset pages differ from offset pages");
        }
    }

    // What a search through every record's content found, for the common queries.
    let every = ListFilter { status: ListStatus::All, limit: 10_000, ..ListFilter::default() };
    let rows = store.record_page(today(), &every).await.unwrap();
    let found = |q: String| {
        let (store, f) = (store.clone(), ListFilter { search: Some(q.clone()), ..every.clone() });
        async move {
            let ids: BTreeSet<i64> = store.record_page(today(), &f).await.unwrap().iter().map(|r| r.id).collect();
            assert_eq!(store.record_count(today(), &f).await.unwrap(), ids.len() as i64, "{q}: total");
            ids
        }
    };
    let in_content = |q: &str| -> BTreeSet<i64> {
        rows.iter().filter(|r| r.content.contains(q) || r.business_key.contains(q)).map(|r| r.id).collect()
    };
    let subject = |r: &ListRow| subject_of(&settings, &r.item, &r.content);
    let firm = rows
        .iter()
        .find(|r| subject(r).1.is_some_and(|c| credit_gateway::ids::CreditCode::parse(&c).is_ok()))
        .expect("a firm's record");
    let (name, code) = subject(firm);
    let (name, code) = (name.unwrap(), code.unwrap());
    // A whole credit code, and its start.
    assert_eq!(found(code.clone()).await, in_content(&code), "by code {code}");
    let start = &code[..10];
    let with_start: BTreeSet<i64> =
        rows.iter().filter(|r| subject(r).1.is_some_and(|c| c.starts_with(start))).map(|r| r.id).collect();
    assert_eq!(found(start.to_string()).await, with_start, "by the code's start {start}");
    // A whole name, and a part of it from its middle.
    assert_eq!(found(name.clone()).await, in_content(&name), "by name {name}");
    let part: String = name.chars().skip(1).take(3).collect();
    let named: BTreeSet<i64> =
        rows.iter().filter(|r| subject(r).0.is_some_and(|n| n.contains(&part))).map(|r| r.id).collect();
    let by_part = found(part.clone()).await;
    assert!(!named.is_empty() && by_part.is_superset(&named), "{part}: {by_part:?} lacks some of {named:?}");
    // A 文书号, whole or its start.
    let number = firm.business_key.split(KEY_SEPARATOR).next().unwrap().to_string();
    assert_eq!(found(number.clone()).await, in_content(&number), "by 文书号 {number}");
    let head: String = number.chars().take(number.chars().count() - 2).collect();
    let keyed: BTreeSet<i64> = rows.iter().filter(|r| r.business_key.starts_with(&head)).map(|r| r.id).collect();
    assert_eq!(found(head.clone()).await, keyed, "by the 文书号's start {head}");

    // Records the link pass has not reached yet are found by their content, as before.
    ingest(&settings, &store, dir, 12, 30, 50_000).await;
    let fresh = store
        .record_page(today(), &ListFilter { order: ListOrder::DeadlineDesc, ..every.clone() })
        .await
        .unwrap()
        .into_iter()
        .filter(|r| !rows.iter().any(|old| old.id == r.id))
        .find(|r| subject(r).1.is_some_and(|c| credit_gateway::ids::CreditCode::parse(&c).is_ok()))
        .expect("a new firm's record");
    let code = subject(&fresh).1.unwrap();
    assert!(found(code.clone()).await.contains(&fresh.id), "a record not linked yet is not found by {code}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_keyset_pages_and_search_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&sqlite_url(dir.path())).await.unwrap();
    keyset_and_search(store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_keyset_pages_and_search_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let (url, name) = fresh_postgres().await;
    let store = Store::connect(&url).await.unwrap();
    keyset_and_search(store.clone(), dir.path()).await;
    store.close().await;
    drop_postgres(&name).await;
}

/// The page links 下一页 by keyset, and the API's `next_after` walks the list as offsets do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_pages_link_onward_by_keyset() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::load(&config_file()).unwrap();
    let store = Store::connect(&sqlite_url(dir.path())).await.unwrap();
    ingest(&settings, &store, dir.path(), 13, 60, 0).await;
    let now = chrono::Utc::now();
    let ops = auth::add_user(&store, &settings.departments, "ops", "ops", None, Some("口令-123"), now).await.unwrap();
    let web = Web::serve(&settings, &store).await;
    let token = &ops.api_token;
    let mut by_offset = Vec::new();
    for offset in (0..60).step_by(9) {
        let page = web.json(&format!("/api/v1/deadlines?status=all&offset={offset}&limit=9"), token).await;
        by_offset.extend(page["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
    }
    let mut by_key = Vec::new();
    let mut path = "/api/v1/deadlines?status=all&limit=9".to_string();
    loop {
        let page = web.json(&path, token).await;
        assert!(page["total"].as_i64().unwrap() >= 50, "{page}");
        by_key.extend(page["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
        match page["next_after"].as_str() {
            Some(key) => path = format!("/api/v1/deadlines?status=all&limit=9&after={key}"),
            None => break,
        }
    }
    assert_eq!(by_key, by_offset);
    let html = web.text("/deadlines?status=all&limit=9", token).await;
    assert!(html.contains("after=") && html.contains("下一页"), "{html}");
    let deeper = web.text(&format!("/deadlines?status=all&limit=9&after=_{}", i64::MAX), token).await;
    assert!(deeper.contains("首页") && !deeper.contains("下一页"), "{deeper}");
    let bad = web.get("/api/v1/deadlines?sort=decision_date&after=2025-01-01_3", Some(token)).await;
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    // Pages by offset reach 10,000 rows deep; past that the answer says how to go on, and a
    // date in `after` jumps there.
    let deepest = web.get("/api/v1/deadlines?status=all&offset=10000", Some(token)).await;
    assert_eq!(deepest.status(), reqwest::StatusCode::OK);
    let too_deep = web.get("/api/v1/deadlines?status=all&offset=10001", Some(token)).await;
    assert_eq!(too_deep.status(), reqwest::StatusCode::BAD_REQUEST);
    let why = too_deep.text().await.unwrap();
    assert!(why.contains("第 10,002 条起") && why.contains("after="), "{why}");
    let page = web.get("/deadlines?status=all&offset=10001", Some(token)).await;
    assert_eq!(page.status(), reqwest::StatusCode::BAD_REQUEST);
    let page = page.text().await.unwrap();
    assert!(page.contains("翻页位置过深") && page.contains("<html"), "{page}");
    let from = web.json("/api/v1/deadlines?status=all&after=2025-01-20_0", token).await;
    let deadlines: Vec<&str> = from["rows"].as_array().unwrap().iter().filter_map(|r| r["deadline"].as_str()).collect();
    assert!(!deadlines.is_empty() && deadlines.iter().all(|d| *d >= "2025-01-20"), "{from}");
}
