//! The command line as a clerk or an operator uses it: `id check` and `check-config`.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn run(args: &[&str]) -> std::process::Output {
    gateway("sqlite::memory:", args)
}

#[test]
fn id_check_knows_every_example_of_the_spec() {
    let valid = [
        ("914403001922038216", "credit_code"),
        ("9144030071526726XG", "credit_code"),
        ("91110000600037341L", "credit_code"),
        ("91310000631696382C", "credit_code"),
        ("121200004013590816", "credit_code"),
        ("91340600MA2PBM9HXD", "credit_code"),
        ("92340602MA2PBMEM24", "credit_code"),
        ("91620105L015101280", "credit_code"),
        ("11230500001755309F", "credit_code"),
        ("91110108551385082Q", "credit_code"),
        ("19220382-1", "org_code"),
        ("71526726-X", "org_code"),
        ("71526726X", "org_code"),
        ("11010519491231002X", "id_number"),
        ("11010519491231002x", "id_number"),
        ("440524188001010014", "id_number"),
    ];
    let invalid = [
        ("914403001922038217", "credit_code"),
        ("91110000600037341N", "credit_code"),
        ("9111000060003IOZSV", "credit_code"),
        ("000000000000000000", "credit_code"),
        ("110105194912310021", "id_number"),
        ("440524188001010015", "id_number"),
        ("12345", "unknown"),
    ];
    let mut args = vec!["id", "check"];
    args.extend(valid.iter().map(|v| v.0));
    let out = run(&args);
    assert!(out.status.success(), "{}", stdout(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), valid.len());
    for (line, (value, kind)) in lines.iter().zip(valid) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[1..], ["valid", kind], "{value}: {line}");
    }

    let mut args = vec!["id", "check"];
    args.extend(invalid.iter().map(|v| v.0));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), invalid.len());
    for (line, (value, kind)) in lines.iter().zip(invalid) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[1..3], ["invalid", kind], "{value}: {line}");
        assert!(cols.len() == 4 && !cols[3].is_empty(), "a reason for {value}: {line}");
    }
    assert!(lines[0].contains('6'), "the right check character is named: {}", lines[0]);
    assert!(lines[1].contains('L'), "the right check character is named: {}", lines[1]);
    // Personal ID numbers are never printed in full.
    assert!(!text.contains("110105194912310021"));
}

#[test]
fn id_check_honours_the_configured_exceptions() {
    // 91350100M0001TGQXM fails the check but is listed in gateway.toml: valid, with a note.
    let out = run(&["id", "check", "91350100M0001TGQXM"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let line = stdout(&out);
    let cols: Vec<&str> = line.trim_end().split('\t').collect();
    assert_eq!(cols[..3], ["91350100M0001TGQXM", "valid", "credit_code"], "{line}");
    assert!(cols.len() == 4 && cols[3].contains("例外"), "a note: {line}");
    // A code one character away is not an exception.
    let out = run(&["id", "check", "91350100M0001TGQXN"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn the_shipped_configuration_is_valid() {
    let out = run(&["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("configuration ok"));
}

/// A copy of the shipped configuration to break.
fn config_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} holds {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_configuration_mistake_is_reported_with_file_and_key() {
    let dir = config_copy();
    let root = dir.path();
    // The copy itself is valid: what fails below comes from the edits.
    let ok = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", root.join("config/gateway.toml").to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    edit(&root.join("mappings/market-penalties.toml"), "[fields.CF_NR_FK]", "[fields.CF_NO_SUCH]");
    edit(&root.join("connectors/market-licences.toml"), "department = \"market\"", "department = \"markets\"");
    edit(&root.join("config/catalogue/cf.toml"), "table = \"penalty_kind\"", "table = \"penalty_kinds\"");
    edit(&root.join("config/gateway.toml"), "listen = \"127.0.0.1:0\"", "listen = \"everywhere\"");
    edit(
        &root.join("config/catalogue/xk.toml"),
        "max_len = 200\nrequired = true",
        "max_len = 200\nrequired = true\ncolour = \"red\"",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", root.join("config/gateway.toml").to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for expected in [
        "gateway.toml: http.listen: expected host:port",
        "cf.toml: fields.CF_CFLB.table: unknown code table \"penalty_kinds\"",
        "xk.toml: line",
        "unknown field `colour`",
        "market-licences.toml: department: unknown department \"markets\"",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn a_mapping_whose_own_tests_fail_is_refused() {
    let dir = config_copy();
    let root = dir.path();
    edit(&root.join("mappings/market-licences.toml"), "XK_XKLB = \"认可\"", "XK_XKLB = \"普通\"");
    let out = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", root.join("config/gateway.toml").to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("market-licences.toml: tests: test 1: XK_XKLB: expected \"普通\", got \"认可\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_amount_column_naming_no_unit_is_a_configuration_mistake() {
    let dir = config_copy();
    let root = dir.path();
    edit(
        &root.join("mappings/market-penalties.toml"),
        "aliases = [\"罚款金额\", \"罚款金额(万元)\"]\nunit = \"yuan\"",
        "aliases = [\"罚款金额\", \"罚款金额(万元)\"]",
    );
    edit(&root.join("config/code-tables.toml"), "\"92\" = \"个体工商户\"", "\"92\" = \"个体商户\"");
    let out = Command::new(env!("CARGO_BIN_EXE_credit-gateway"))
        .args(["--config", root.join("config/gateway.toml").to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for expected in [
        "market-penalties.toml: fields.CF_NR_FK.unit: \"罚款金额\" names no unit",
        "code-tables.toml: subject_kind_by_code.prefixes.92: \"个体商户\" is not in the subject_kind table",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}
