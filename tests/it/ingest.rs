//! `ingest` end to end: real files in real folders, the real binary, SQLite and PostgreSQL.

use crate::support::*;
use credit_gateway::sim::sample::{SampleFormat, SampleItem};

fn counts(v: &serde_json::Value) -> (u64, u64, u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    (n("rows"), n("accepted"), n("unchanged"), n("rejected"), n("skipped"))
}

#[test]
fn a_department_file_is_stored_and_every_bad_row_explained() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("penalties.csv");
    let expected = sample(&file, SampleItem::Penalties, 400, 0.1, SampleFormat::Csv);
    assert!(expected.bad > 20 && expected.skipped > 0, "{expected:?}");

    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(counts(&v), (expected.rows, expected.good, 0, expected.bad, expected.skipped), "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert!(errors.len() as u64 >= expected.bad);
    for e in errors {
        assert!(e["row"].as_u64().unwrap() >= 2, "row numbers count the header: {e}");
        assert!(!e["reason"].as_str().unwrap().is_empty());
    }

    // The department's report: BOM, Chinese header, one line per problem, rows as in Excel.
    let report = std::fs::read(dir.path().join("penalties.csv.errors.csv")).unwrap();
    assert!(report.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&report[3..]);
    assert_eq!(reader.headers().unwrap(), vec!["行号", "字段", "原因", "原始值"]);
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(lines.len(), errors.len());
    let original = std::fs::read_to_string(&file).unwrap();
    let file_lines: Vec<&str> = original.lines().collect();
    for line in &lines {
        let row: usize = line[0].parse().unwrap();
        assert!(row <= file_lines.len());
        // Values that Excel would run as formulas are prefixed with an apostrophe.
        let value = line[3].strip_prefix('\'').unwrap_or(&line[3]);
        if !value.is_empty() && !value.contains('*') && !value.contains('…') {
            assert!(file_lines[row - 1].contains(value), "row {row} holds {value:?}");
        }
    }

    // The same file again changes nothing.
    let again = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(counts(&json(&again)), (expected.rows, 0, expected.good, expected.bad, expected.skipped));
}

#[test]
fn a_changed_row_becomes_a_new_version_and_the_old_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("p.csv");
    let expected = sample(&file, SampleItem::Penalties, 50, 0.0, SampleFormat::Csv);
    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
    assert_eq!(counts(&json(&out)).1, expected.good);

    // Change the 违法事实 of the first data row: same business key, new content.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(Result::unwrap).collect();
    let header = csv::Reader::from_reader(text.as_bytes()).headers().unwrap().clone();
    let col = header.iter().position(|h| h == "违法事实").unwrap();
    let changed: Vec<String> = rows[0]
        .iter()
        .enumerate()
        .map(|(i, c)| if i == col { "更正后的违法事实".to_string() } else { c.to_string() })
        .collect();
    rows[0] = csv::StringRecord::from(changed);
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record(&header).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();

    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
    let v = json(&out);
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["new_versions"], 1, "{v}");
    assert_eq!(v["unchanged"].as_u64().unwrap(), expected.good - 1);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = credit_gateway::store::Store::connect(&db).await.unwrap();
        let runs = v["ingest_run"].as_i64().unwrap();
        let key_row: (i64, i64, String) =
            sqlx::query_as("SELECT id, version, content FROM records WHERE ingest_run_id = $1")
                .bind(runs)
                .fetch_one(&sqlx::SqlitePool::connect(&db).await.unwrap())
                .await
                .unwrap();
        assert_eq!(key_row.1, 2);
        assert!(key_row.2.contains("更正后的违法事实"));
        let history = store.record_history(key_row.0).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].0, 1);
        assert!(!history[0].1.contains("更正后的违法事实"));
    });
}

#[test]
fn gbk_bom_and_workbooks_with_a_title_row_give_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, format) in [
        ("utf8.csv", SampleFormat::Csv),
        ("bom.csv", SampleFormat::CsvBom),
        ("gbk.csv", SampleFormat::CsvGbk),
        ("title.xlsx", SampleFormat::Xlsx { title_row: true }),
        ("plain.xlsx", SampleFormat::Xlsx { title_row: false }),
    ] {
        let db = format!("sqlite://{}", dir.path().join(format!("{name}.db")).display());
        let file = dir.path().join(name);
        let expected = sample(&file, SampleItem::Licences, 120, 0.1, format);
        let out = gateway(&db, &["ingest", "--connector", "market-licences", "--json", file.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(counts(&v), (expected.rows, expected.good, 0, expected.bad, 0), "{name}: {v}");
        seen.push((
            name,
            v["errors"].as_array().unwrap().iter().map(|e| (e["row"].clone(), e["code"].clone())).collect::<Vec<_>>(),
        ));
    }
    // Same seed, same rows: every format reports the same problems (a title row shifts rows by one).
    let csv_codes: Vec<_> = seen[0].1.iter().map(|(_, c)| c.clone()).collect();
    for (name, errs) in &seen {
        let codes: Vec<_> = errs.iter().map(|(_, c)| c.clone()).collect();
        assert_eq!(codes, csv_codes, "{name}");
    }
}

#[test]
fn licences_and_penalties_report_the_same_counts_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, name) = rt.block_on(fresh_postgres());
    let dir = tempfile::tempdir().unwrap();
    for (connector, item) in [("market-penalties", SampleItem::Penalties), ("market-licences", SampleItem::Licences)] {
        let file = dir.path().join(format!("{connector}.csv"));
        let expected = sample(&file, item, 300, 0.1, SampleFormat::Csv);
        let out = gateway(&url, &["ingest", "--connector", connector, "--json", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(counts(&json(&out)), (expected.rows, expected.good, 0, expected.bad, expected.skipped));
        let again = gateway(&url, &["ingest", "--connector", connector, "--json", file.to_str().unwrap()]);
        assert_eq!(counts(&json(&again)), (expected.rows, 0, expected.good, expected.bad, expected.skipped));
    }
    rt.block_on(drop_postgres(&name));
}

#[test]
fn unreadable_files_are_refused_with_a_reason_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut binary = b"\x00\x01\x02PK\x00\x00".to_vec();
    binary.extend((0..4096u32).map(|i| (i * 7 % 256) as u8));
    // Bytes that are neither UTF-8 nor GB18030 (0x80 and 0xFF are not GB18030 lead bytes).
    let unknown: Vec<u8> = b"a,b\n".iter().copied().chain([0xFF, 0x80, 0xFF, 0x80, b'\n'].repeat(50)).collect();
    let cases = [
        ("empty.csv", write("empty.csv", b"")),
        ("binary.csv", write("binary.csv", &binary)),
        ("unknown-encoding.csv", write("unknown-encoding.csv", &unknown)),
        ("no-header.csv", write("no-header.csv", "甲,乙,丙\n1,2,3\n".as_bytes())),
        ("fake.xlsx", write("fake.xlsx", b"this is not a workbook")),
    ];
    for (name, path) in &cases {
        let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}{}", stdout(&out), stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{name}: {}", stderr(&out));
        let v = json(&out);
        assert!(!v["reason"].as_str().unwrap().is_empty(), "{name}: {v}");
        let report = std::fs::read_to_string(dir.path().join(format!("{name}.errors.csv"))).unwrap();
        assert!(report.contains(v["reason"].as_str().unwrap()), "{name}: the report says why");
    }
}

#[test]
fn header_only_ragged_rows_and_a_huge_cell_are_handled_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("base.csv");
    sample(&file, SampleItem::Penalties, 30, 0.0, SampleFormat::Csv);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    // Summary-procedure rows would be skipped, not stored: keep ordinary ones.
    let rows: Vec<String> = lines.filter(|l| !l.contains("简易程序")).map(str::to_string).collect();

    let header_only = dir.path().join("header-only.csv");
    std::fs::write(&header_only, format!("{header}\n")).unwrap();
    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", header_only.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(counts(&json(&out)), (0, 0, 0, 0, 0));

    // A row with a cell missing, a row with an extra filled cell, and a 10 MB cell.
    let short: String = rows[0].rsplit_once(',').unwrap().0.to_string();
    let long = format!("{},多余", rows[1]);
    let huge_cell = "违".repeat(10 * 1024 * 1024 / 3);
    let mut huge_row: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(rows[2].as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    huge_row[7] = huge_cell;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&huge_row).unwrap();
    let huge_line = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, format!("{header}\n{short}\n{long}\n{huge_line}{}\n", rows[0])).unwrap();
    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", ragged.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(counts(&v), (4, 1, 0, 3, 0), "{v}");
    let codes: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(codes[..2], ["ragged_row", "ragged_row"]);
    assert!(codes[2] == "cell_too_large" || codes[2] == "too_long", "{codes:?}");
    assert!(v["errors"][2]["value"].as_str().unwrap().len() < 2_000, "huge values are not echoed whole");
}

/// The header is looked for in the first rows only while they are small: rows of megabytes
/// right after it are read one by one like any other (none lost), and a header below 16 MB of
/// rows is not looked for (the refusal says how many rows were looked at).
#[test]
fn the_header_look_ahead_stops_at_sixteen_megabytes_and_loses_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("base.csv");
    sample(&file, SampleItem::Penalties, 30, 0.0, SampleFormat::Csv);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<&str> = lines.filter(|l| !l.contains("简易程序")).take(10).collect();
    // 31 cells of 127 KB: about 4 MB a row, under every reader limit, too long for the catalogue.
    let wide = vec!["违".repeat(127 * 1024 / 3); header.split(',').count()].join(",");

    let big_first = dir.path().join("big-first.csv");
    let body: Vec<&str> = std::iter::repeat_n(wide.as_str(), 6).chain(rows.iter().copied()).collect();
    std::fs::write(&big_first, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", big_first.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(counts(&v), (16, 10, 0, 6, 0), "{v}");

    let buried = dir.path().join("buried.csv");
    let above: Vec<&str> = std::iter::repeat_n(wide.as_str(), 5).collect();
    std::fs::write(&buried, format!("{}\n{header}\n{}\n", above.join("\n"), rows[0])).unwrap();
    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", buried.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let report = std::fs::read_to_string(dir.path().join("buried.csv.errors.csv")).unwrap();
    assert!(report.contains("前 5 行中未找到表头"), "{report}");
}

#[test]
fn one_key_twice_in_a_file_is_a_new_version_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.csv");
    sample(&file, SampleItem::Penalties, 30, 0.0, SampleFormat::Csv);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines.find(|l| !l.contains("简易程序")).unwrap();
    let changed = row.replacen("经查", "复查", 1);
    assert_ne!(row, changed);
    std::fs::write(&file, format!("{header}\n{row}\n{changed}\n{changed}\n")).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (pg, name) = rt.block_on(fresh_postgres());
    for db in [sqlite_url(dir.path()), pg] {
        let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
        assert!(out.status.success(), "{db}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(
            (v["new_records"].as_u64(), v["new_versions"].as_u64(), v["unchanged"].as_u64()),
            (Some(1), Some(1), Some(1)),
            "{db}: {v}"
        );
    }
    rt.block_on(drop_postgres(&name));
}

/// A reason may quote the value it refuses; when that value holds an ID number (with a
/// prefix, in full-width digits), the error report and the command's output mask it.
#[test]
fn id_numbers_quoted_in_reasons_are_masked_in_the_report_and_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("utility-arrears.csv");
    let rows = [
        "id,yhmc,shxydm,sfzhm,qflx,qfje,qfqsrq,tjrq,gydw,updated_at",
        "1,李娜,,440524188001010014,ID11010519491231002X,10,2024-01-01,2024-03-31,燃气公司,2024-04-01 08:00:00",
        "2,王芳,,440524188001010014,１１０１０５１９４９１２３１００２Ｘ,10,2024-01-01,2024-03-31,燃气公司,2024-04-01 08:00:00",
    ];
    std::fs::write(&file, rows.join("\n") + "\n").unwrap();
    let out = gateway(&db, &["ingest", "--connector", "utility-arrears", "--json", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(counts(&json(&out)).3, 2, "both rows refused: {}", stdout(&out));
    let printed = stdout(&out);
    assert!(!printed.contains("19491231") && !printed.contains("１９４９１２３１"), "{printed}");
    assert!(printed.contains("ID110105********002X"), "{printed}");

    let report = std::fs::read(dir.path().join("utility-arrears.csv.errors.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(&report[3..]);
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let reasons: Vec<&str> = lines.iter().map(|l| &l[2]).collect();
    assert!(reasons.iter().any(|r| r.contains("ID110105********002X")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("１１０１０５********００２Ｘ") || r.contains("110105********002X")));
    for line in &lines {
        let text = line.iter().collect::<Vec<_>>().join(",");
        assert!(!text.contains("19491231") && !text.contains("１９４９１２３１"), "{text}");
        assert!(!text.contains("18800101"), "{text}");
    }
}

#[test]
fn rows_kept_with_a_warning_are_listed_in_warning_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let file = dir.path().join("p.csv");
    sample(&file, SampleItem::Penalties, 20, 0.0, SampleFormat::Csv);
    // The configured exception code (gateway.toml) fails its check character: kept, with a warning.
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "统一社会信用代码").expect("credit code column");
    let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row1 = rows.iter().position(|r| !r[col].is_empty()).unwrap();
    let mut changed: Vec<String> = rows[row1].iter().map(str::to_string).collect();
    changed[col] = "91350100M0001TGQXM".into();
    rows[row1] = csv::StringRecord::from(changed);
    let mut writer = csv::Writer::from_path(&file).unwrap();
    writer.write_record(&headers).unwrap();
    for r in &rows {
        writer.write_record(r).unwrap();
    }
    writer.flush().unwrap();

    let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["warnings"], 1, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{v}");
    let items = v["warning_items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["code"], "credit_code_exception");
    assert_eq!(items[0]["row"], row1 as u64 + 2);
    assert_eq!(items[0]["value"], "91350100M0001TGQXM");
    assert!(!items[0]["reason"].as_str().unwrap().is_empty());
}

/// The outbox rows of new versions are written by the record writer, set-based, per
/// statement: one `add` per destination carrying the item for a new record; a new version
/// supersedes what was pending for the record and goes out as `update` where the platform
/// accepted the record, else as `add`; an unchanged row queues nothing. Same on both backends.
#[test]
fn new_versions_queue_one_delivery_per_destination_on_both_backends() {
    type Delivery = (i64, i64, String, String, String, String);
    async fn deliveries(db: &str) -> Vec<Delivery> {
        const SQL: &str = "SELECT record_id, version, destination, operation, status, idempotency_key \
                           FROM deliveries ORDER BY record_id, version, destination";
        if db.starts_with("sqlite") {
            sqlx::query_as(SQL).fetch_all(&sqlx::SqlitePool::connect(db).await.unwrap()).await.unwrap()
        } else {
            sqlx::query_as(SQL).fetch_all(&sqlx::PgPool::connect(db).await.unwrap()).await.unwrap()
        }
    }
    async fn accept(db: &str, record: i64, destination: &str) {
        const SQL: &str = "UPDATE deliveries SET status = 'accepted' WHERE record_id = $1 AND destination = $2";
        if db.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(db).await.unwrap();
            sqlx::query(SQL).bind(record).bind(destination).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::PgPool::connect(db).await.unwrap();
            sqlx::query(SQL).bind(record).bind(destination).execute(&pool).await.unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outbox.csv");
    sample(&file, SampleItem::Penalties, 30, 0.0, SampleFormat::Csv);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows: Vec<String> = lines.filter(|l| !l.contains("简易程序")).take(3).map(str::to_string).collect();
    let changed = |row: &str, word: &str| {
        let c = row.replacen("经查", word, 1);
        assert_ne!(c, row);
        c
    };
    std::fs::write(&file, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    // Row 1 changed; row 2 changed twice in the same file; row 3 as it was.
    let second = format!(
        "{header}\n{}\n{}\n{}\n{}\n",
        changed(&rows[0], "复查"),
        changed(&rows[1], "复查"),
        changed(&rows[1], "再查"),
        rows[2]
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (pg, name) = rt.block_on(fresh_postgres());
    for db in [sqlite_url(dir.path()), pg] {
        std::fs::write(&file, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
        assert!(out.status.success(), "{db}: {}", stderr(&out));
        let first = rt.block_on(deliveries(&db));
        // The shipped destinations carrying CF: the national and the provincial platform.
        assert_eq!(first.len(), 6, "{db}: {first:?}");
        for (record, version, destination, operation, status, key) in &first {
            assert_eq!((*version, operation.as_str(), status.as_str()), (1, "add", "pending"), "{db}");
            assert_eq!(key, &format!("{record}:1:{destination}"), "{db}");
        }
        let ids: Vec<i64> = first.iter().step_by(2).map(|d| d.0).collect();
        rt.block_on(accept(&db, ids[0], "provincial"));

        std::fs::write(&file, &second).unwrap();
        let out = gateway(&db, &["ingest", "--connector", "market-penalties", "--json", file.to_str().unwrap()]);
        assert!(out.status.success(), "{db}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!((v["new_versions"].as_u64(), v["unchanged"].as_u64()), (Some(3), Some(1)), "{db}: {v}");
        let got: Vec<(i64, i64, String, String, String)> =
            rt.block_on(deliveries(&db)).into_iter().map(|(r, v, d, o, s, _)| (r, v, d, o, s)).collect();
        let want = |r: i64, v: i64, d: &str, o: &str, s: &str| (r, v, d.to_string(), o.to_string(), s.to_string());
        assert_eq!(
            got,
            vec![
                want(ids[0], 1, "national", "add", "superseded"),
                want(ids[0], 1, "provincial", "add", "accepted"),
                want(ids[0], 2, "national", "add", "pending"),
                want(ids[0], 2, "provincial", "update", "pending"),
                want(ids[1], 1, "national", "add", "superseded"),
                want(ids[1], 1, "provincial", "add", "superseded"),
                want(ids[1], 2, "national", "add", "superseded"),
                want(ids[1], 2, "provincial", "add", "superseded"),
                want(ids[1], 3, "national", "add", "pending"),
                want(ids[1], 3, "provincial", "add", "pending"),
                want(ids[2], 1, "national", "add", "pending"),
                want(ids[2], 1, "provincial", "add", "pending"),
            ],
            "{db}"
        );
    }
    rt.block_on(drop_postgres(&name));
}
