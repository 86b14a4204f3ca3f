//! Every catalogue rule, through the shipped configuration: one valid 行政处罚 row, then one
//! change at a time and the problem it must raise (in Chinese, on the right field).

use std::collections::BTreeMap;

use credit_gateway::config::Settings;
use credit_gateway::format::RawRow;
use credit_gateway::mapping::{Mapping, RowOutcome, RowScratch};

/// Cells to change: (header, new value).
type Changes<'a> = Vec<(&'a str, &'a str)>;

const AUTHORITY: &str = "11340600MB1234567C";

fn valid_penalty() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("行政相对人名称", "淮北市相山区某某商贸有限公司"),
        ("行政相对人类别", "法人及非法人组织"),
        ("统一社会信用代码", "91340600MA2PBM9HXD"),
        ("法定代表人", "张三"),
        ("行政处罚决定书文号", "淮相市监处罚〔2024〕1号"),
        ("违法行为类型", "无照经营"),
        ("违法事实", "未取得营业执照从事经营活动"),
        ("处罚依据", "《无证无照经营查处办法》第十三条"),
        ("处罚类别", "罚款"),
        ("处罚内容", "罚款2000元"),
        ("罚款金额（万元）", "0.2"),
        ("处罚决定日期", "2024-03-01"),
        ("处罚有效期", "2024-09-01"),
        ("公示截止期", "2025-03-01"),
        ("处罚机关", "淮北市相山区市场监督管理局"),
        ("处罚机关统一社会信用代码", AUTHORITY),
        ("数据来源单位", "淮北市相山区市场监督管理局"),
        ("数据来源单位统一社会信用代码", AUTHORITY),
    ])
}

fn settings() -> Settings {
    Settings::load(&crate::support::config_file()).expect("shipped configuration loads")
}

/// Maps one row given as header → cell; returns the outcome, values by key and `FIELD:code` problems.
fn map(
    mapping: &Mapping,
    row: &BTreeMap<&str, &str>,
) -> (RowOutcome, BTreeMap<String, String>, Vec<String>, Vec<String>) {
    let header = RawRow { line: 1, cells: row.keys().map(|k| k.to_string()).collect() };
    let data = RawRow { line: 2, cells: row.values().map(|v| v.to_string()).collect() };
    let binding = mapping.bind(&header).expect("header binds");
    let mut scratch = RowScratch::default();
    let outcome = mapping.map_row(&binding, &data, &mut scratch);
    let problems = scratch
        .problems
        .iter()
        .map(|p| format!("{}:{}", p.field.map_or("row", |f| mapping.item.fields[f].key.as_str()), p.code.as_str()))
        .collect();
    let reasons = scratch.problems.iter().map(|p| p.reason.clone()).collect();
    (outcome, mapping.values_by_key(&scratch.values), problems, reasons)
}

#[test]
fn a_valid_row_passes_and_is_stored_in_canonical_form() {
    let s = settings();
    let m = s.mapping("market-penalties").unwrap();
    let (outcome, values, problems, _) = map(m, &valid_penalty());
    assert!(matches!(outcome, RowOutcome::Accepted), "{problems:?}");
    assert_eq!(values["CF_CFLB"], "02");
    assert_eq!(values["CF_NR_FK"], "0.2");
}

#[test]
fn every_rule_of_the_penalty_item_raises_its_problem() {
    let s = settings();
    let m = s.mapping("market-penalties").unwrap();
    let long_name = "名".repeat(201);
    let long_note = "备".repeat(513);
    // (what changes, expected problems)
    let cases: Vec<(Changes, Vec<&str>)> = vec![
        (vec![("行政相对人名称", "")], vec!["CF_XDR_MC:required"]),
        (vec![("行政相对人名称", &long_name)], vec!["CF_XDR_MC:too_long"]),
        (vec![("行政相对人类别", "外星人")], vec!["CF_XDR_LB:unknown_code"]),
        (vec![("统一社会信用代码", "")], vec!["CF_XDR_SHXYM:required"]),
        (vec![("统一社会信用代码", "91340600MA2PBM9HXE")], vec!["CF_XDR_SHXYM:bad_credit_code"]),
        (vec![("统一社会信用代码", "9111000060003IOZSV")], vec!["CF_XDR_SHXYM:bad_credit_code"]),
        (vec![("统一社会信用代码", "000000000000000000")], vec!["CF_XDR_SHXYM:bad_credit_code"]),
        // The placeholder needs the 工商注册号.
        (vec![("统一社会信用代码", "00000000000000000X")], vec!["CF_XDR_GSZC:required"]),
        (vec![("统一社会信用代码", "00000000000000000X"), ("工商注册号", "340602600012345")], vec![]),
        // Legal persons need a legal representative; natural persons an ID.
        (vec![("法定代表人", "")], vec!["CF_FRDB:required"]),
        (
            vec![("行政相对人类别", "自然人"), ("统一社会信用代码", ""), ("法定代表人", "")],
            vec!["CF_XDR_ZJLX:required", "CF_XDR_ZJHM:required"],
        ),
        (
            vec![
                ("行政相对人类别", "自然人"),
                ("统一社会信用代码", ""),
                ("证件类型", "身份证"),
                ("证件号码", "110105194912310021"),
            ],
            vec!["CF_XDR_ZJHM:bad_id_number"],
        ),
        (
            vec![
                ("行政相对人类别", "自然人"),
                ("统一社会信用代码", ""),
                ("证件类型", "01"),
                ("证件号码", "11010519491231002x"),
            ],
            vec![],
        ),
        // A passport number has no check digit to verify.
        (
            vec![
                ("行政相对人类别", "自然人"),
                ("统一社会信用代码", ""),
                ("证件类型", "护照"),
                ("证件号码", "E12345678"),
            ],
            vec![],
        ),
        (vec![("组织机构代码", "19220382-2")], vec!["CF_XDR_ZZJG:bad_org_code"]),
        (vec![("组织机构代码", "19220382-1")], vec![]),
        (vec![("处罚类别", "99")], vec!["CF_CFLB:unknown_code"]),
        (vec![("处罚类别", "")], vec!["CF_CFLB:required"]),
        // 罚款 needs the amount; 没收 its amount; 吊销/暂扣 the licence.
        (vec![("罚款金额（万元）", "")], vec!["CF_NR_FK:required"]),
        (vec![("处罚类别", "警告"), ("罚款金额（万元）", "")], vec![]),
        (vec![("处罚类别", "罚款;没收违法所得")], vec!["CF_NR_WFFF:required"]),
        (vec![("处罚类别", "02、05")], vec!["CF_NR_ZKDX:required"]),
        (vec![("罚款金额（万元）", "-1")], vec!["CF_NR_FK:below_min"]),
        (vec![("罚款金额（万元）", "0.0000001")], vec!["CF_NR_FK:too_many_decimals"]),
        (vec![("罚款金额（万元）", "很多")], vec!["CF_NR_FK:bad_amount"]),
        (vec![("处罚决定日期", "2023-02-30")], vec!["CF_JDRQ:bad_date"]),
        // A year or a month typed as a number is not an Excel serial from 1905.
        (vec![("处罚决定日期", "2024")], vec!["CF_JDRQ:bad_date"]),
        (vec![("处罚决定日期", "2024.03")], vec!["CF_JDRQ:bad_date"]),
        (vec![("处罚决定日期", "")], vec!["CF_JDRQ:required"]),
        (vec![("处罚有效期", "2024-02-29")], vec!["CF_YXQ:date_order"]),
        (vec![("公示截止期", "2024-02-01")], vec!["CF_GSJZQ:date_order"]),
        (vec![("公示截止期", "长期")], vec!["CF_GSJZQ:bad_date"]),
        (vec![("处罚有效期", "长期")], vec![]),
        (vec![("处罚机关统一社会信用代码", "")], vec!["CF_CFJGDM:required"]),
        (vec![("数据来源单位统一社会信用代码", "91110000600037341N")], vec!["CF_SJLYDM:bad_credit_code"]),
        (vec![("备注", &long_note)], vec!["BZ:too_long"]),
    ];
    for (changes, expected) in cases {
        let mut row = valid_penalty();
        for (k, v) in &changes {
            row.insert(k, v);
        }
        let (outcome, _, problems, reasons) = map(m, &row);
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        let mut got = problems.clone();
        got.sort();
        assert_eq!(got, expected, "changes {changes:?}: reasons {reasons:?}");
        assert_eq!(matches!(outcome, RowOutcome::Rejected), !expected.is_empty(), "{changes:?}");
        for r in &reasons {
            assert!(r.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "reason in Chinese: {r}");
        }
    }
}

#[test]
fn a_fujian_pilot_code_listed_as_an_exception_is_a_warning_only() {
    let s = settings();
    let m = s.mapping("market-penalties").unwrap();
    let mut row = valid_penalty();
    row.insert("统一社会信用代码", "91350100M0001TGQXM");
    let (outcome, _, problems, _) = map(m, &row);
    assert!(matches!(outcome, RowOutcome::Accepted));
    assert_eq!(problems, vec!["CF_XDR_SHXYM:credit_code_exception"]);
}

#[test]
fn summary_procedure_penalties_are_skipped_not_rejected() {
    let s = settings();
    let m = s.mapping("market-penalties").unwrap();
    let mut row = valid_penalty();
    row.insert("案件程序", "简易程序");
    row.insert("处罚决定日期", "不是日期");
    let (outcome, _, _, _) = map(m, &row);
    assert!(matches!(outcome, RowOutcome::Skipped(ref r) if r.contains("简易程序")));
}

#[test]
fn dates_and_amounts_in_the_forms_departments_send() {
    let s = settings();
    let m = s.mapping("market-penalties").unwrap();
    for (date, want) in [
        ("2024-03-01", "2024-03-01"),
        ("2024/3/1", "2024-03-01"),
        ("2024.03.01", "2024-03-01"),
        ("20240301", "2024-03-01"),
        ("2024年3月1日", "2024-03-01"),
        ("45352", "2024-03-01"),
        ("2024-03-01 09:30:00", "2024-03-01"),
        ("2024-03-01T09:30:00+08:00", "2024-03-01"),
        ("２０２４－０３－０１", "2024-03-01"),
    ] {
        let mut row = valid_penalty();
        row.insert("处罚决定日期", date);
        let (_, values, problems, _) = map(m, &row);
        assert_eq!(values.get("CF_JDRQ").map(String::as_str), Some(want), "{date}: {problems:?}");
    }
    for (amount, want) in [
        ("0.2", "0.2"),
        ("2,000元", "0.2"),
        ("2000 元", "0.2"),
        ("1,234,567.89元", "123.456789"),
        ("0.5万元", "0.5"),
        ("￥2,000元", "0.2"),
        ("１２３４元", "0.1234"),
    ] {
        let mut row = valid_penalty();
        row.insert("罚款金额（万元）", amount);
        let (_, values, problems, _) = map(m, &row);
        assert_eq!(values.get("CF_NR_FK").map(String::as_str), Some(want), "{amount}: {problems:?}");
    }
}
