//! The one glossary: the Chinese word a person reads for every stored code (delivery, run and
//! connector statuses, operations, overdue causes), Asia/Shanghai times for stored UTC stamps,
//! HTTP failures in Chinese, and what a clerk should do about a platform's return rule.
//! Pages, exports and the command line all take their words from here, so one state has one
//! word everywhere (按时报送, 已逾期, 已退回, 推送, 平台).
//!
//! Pure: no IO, no clock.

use chrono::{DateTime, FixedOffset, Utc};

/// A stored code and its Chinese word.
type Words = &'static [(&'static str, &'static str)];

/// Delivery statuses (the outbox).
pub const DELIVERY_STATUS: Words = &[
    ("pending", "待推送"),
    ("in_flight", "推送中"),
    ("accepted", "已接收"),
    ("returned", "已退回"),
    ("dead", "推送失败（死信）"),
    ("superseded", "已被新版本取代"),
    ("held", "暂缓推送"),
    ("expired", "已过期未推送"),
];

/// Connector statuses (the last run).
pub const CONNECTOR_STATUS: Words =
    &[("ok", "正常"), ("idle", "空闲"), ("error", "出错"), ("never", "未运行"), ("disabled", "已停用")];

/// Ingest run statuses.
pub const RUN_STATUS: Words = &[
    ("running", "导入中"),
    ("done", "已完成"),
    ("failed", "失败"),
    ("rejected", "已拒收"),
    ("changed", "读取中文件被修改"),
    ("interrupted", "中断"),
    ("duplicate", "重复文件"),
];

/// Delivery operations (操作类型).
/// `suspend`/`resume`: publication paused while an objection is handled, and resumed when it
/// is rejected (pushed to the platform as 撤销 and 新增).
pub const OPERATION: Words = &[
    ("add", "新增"),
    ("update", "变更"),
    ("withdraw", "撤下公示"),
    ("delete", "删除"),
    ("suspend", "暂停公示（撤销）"),
    ("resume", "恢复公示（新增）"),
];

/// Why an overdue record is overdue (SPEC §7 overdue, split by who must act).
pub const OVERDUE_CAUSE: Words =
    &[("department", "部门未报送"), ("returned", "已退回待补正"), ("push", "推送失败/平台异常")];

/// The Chinese word for `code` in `words`, or the code itself when the glossary lacks it.
pub fn zh(words: Words, code: &str) -> &str {
    words.iter().find(|(c, _)| *c == code).map_or(code, |(_, z)| z)
}

pub fn delivery_status(code: &str) -> &str {
    zh(DELIVERY_STATUS, code)
}

pub fn connector_status(code: &str) -> &str {
    zh(CONNECTOR_STATUS, code)
}

pub fn run_status(code: &str) -> &str {
    zh(RUN_STATUS, code)
}

pub fn operation(code: &str) -> &str {
    zh(OPERATION, code)
}

pub fn overdue_cause(code: &str) -> &str {
    zh(OVERDUE_CAUSE, code)
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A stored RFC 3339 stamp as Asia/Shanghai local time, `2026-12-03 15:48`; anything that is
/// not a stamp is returned as it is.
pub fn local_time(stamp: &str) -> String {
    match DateTime::parse_from_rfc3339(stamp) {
        Ok(t) => t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => stamp.to_string(),
    }
}

/// An instant as Asia/Shanghai local time, `2026-12-03 15:48`.
pub fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// An instant's Asia/Shanghai time of day, `16:02`.
pub fn local_hm(stamp: &str) -> String {
    match DateTime::parse_from_rfc3339(stamp) {
        Ok(t) => t.with_timezone(&shanghai()).format("%H:%M").to_string(),
        Err(_) => stamp.to_string(),
    }
}

/// The HTTP status code a stored push error names (`HTTP 503 Service Unavailable: …`).
pub fn http_status(error: &str) -> Option<u16> {
    let rest = error.split("HTTP ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|c| (100..600).contains(c))
}

/// A push failure as a clerk reads it: `HTTP 503 Service Unavailable: {"error":"injected"}`
/// becomes `平台暂时不可用（HTTP 503）`; connection and timeout failures are named too; the
/// platform's own words (a body) are not shown, they are in the log.
pub fn push_error(error: &str) -> String {
    if let Some(code) = http_status(error) {
        let what = match code {
            400 => "平台拒收请求（数据包格式不符）",
            401 | 403 => "平台拒绝访问（令牌或签名无效）",
            404 => "平台地址不存在（请核对目的地配置）",
            408 | 504 => "平台响应超时",
            413 => "数据包过大",
            429 => "平台限流，稍后重试",
            500 => "平台内部错误",
            502 => "平台网关错误",
            503 => "平台暂时不可用",
            _ if code >= 500 => "平台异常",
            _ => "平台拒收请求",
        };
        return format!("{what}（HTTP {code}）");
    }
    let lower = error.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        "连接平台超时".to_string()
    } else if lower.contains("connect") || lower.contains("connection") || lower.contains("dns") {
        "无法连接平台".to_string()
    } else if lower.contains("not in the platform's receipts") {
        "平台回执中没有该记录，将重试".to_string()
    } else if error.is_ascii() && !error.is_empty() {
        "推送失败（详见日志）".to_string()
    } else {
        error.to_string()
    }
}

/// What a clerk should do about a record a platform returned, by the platform's rule:
/// rule 1001 (主体不符) names the name sent and the one the subject library holds.
pub fn return_advice(rule: Option<&str>, reason: &str, sent_name: Option<&str>) -> String {
    match rule {
        Some("1001") => {
            let registered = after(reason, "主体库登记名称：");
            match (sent_name, registered) {
                (Some(sent), Some(registered)) if sent != registered => format!(
                    "报送名称“{sent}”与主体库名称“{registered}”不一致：请核对统一社会信用代码与名称，\
                     按主体库登记名称（或更正代码）修改后以相同文书号重新报送"
                ),
                _ if reason.contains("没有统一社会信用代码") => {
                    "主体库中没有该统一社会信用代码：请核对代码是否录错；代码无误的，请主体向登记机关核实后重新报送"
                        .to_string()
                }
                _ => "主体名称与统一社会信用代码不匹配：请核对后以相同文书号重新报送".to_string(),
            }
        }
        Some("1000") => "平台不接受该信息类别：请联系信用办核对目录与目的地配置，部门无需修改".to_string(),
        Some("1002") => "平台不接受该操作类型：请联系信用办，部门无需修改".to_string(),
        _ => "请按退回原因修改后，以相同业务主键重新提交；新版本被接收后自动关闭".to_string(),
    }
}

/// The text after `marker` up to the closing bracket or comma that ends it. Brackets opened
/// inside it are its own: a registered name such as `某某（集团）有限公司` is read whole.
fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let mut depth = 0usize;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '（' | '(' => depth += 1,
            '）' | ')' if depth > 0 => depth -= 1,
            '）' | ')' | '，' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    Some(rest[..end].trim()).filter(|s| !s.is_empty())
}

/// Replaces catalogue field keys (`CF_NR_FK`) in a text with their Chinese names; `names`
/// lists (key, name) pairs, longer keys first so one key never eats another's prefix.
pub fn field_names_in(text: &str, names: &[(String, String)]) -> String {
    if !text.bytes().any(|b| b == b'_') {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (key, name) in names {
        if out.contains(key.as_str()) {
            out = out.replace(key.as_str(), name);
        }
    }
    out
}

/// A file's name from a stored path (`/srv/…/inbox/x.csv` → `x.csv`), for either separator.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_one_word_each() {
        assert_eq!(delivery_status("returned"), "已退回");
        assert_eq!(delivery_status("pending"), "待推送");
        assert_eq!(operation("add"), "新增");
        assert_eq!(connector_status("idle"), "空闲");
        assert_eq!(overdue_cause("push"), "推送失败/平台异常");
        assert_eq!(zh(OPERATION, "unknown"), "unknown");
    }

    #[test]
    fn times_are_shown_in_shanghai() {
        assert_eq!(local_time("2026-12-03T07:48:00Z"), "2026-12-03 15:48");
        assert_eq!(local_time("2026-12-03T16:30:00.000Z"), "2026-12-04 00:30");
        assert_eq!(local_hm("2026-12-03T08:02:00Z"), "16:02");
        assert_eq!(local_time("—"), "—");
    }

    #[test]
    fn http_failures_are_chinese() {
        let raw = "HTTP 503 Service Unavailable: {\"error\":\"injected\"}";
        assert_eq!(http_status(raw), Some(503));
        assert_eq!(push_error(raw), "平台暂时不可用（HTTP 503）");
        assert_eq!(push_error("error sending request: connection refused"), "无法连接平台");
        assert_eq!(push_error("operation timed out"), "连接平台超时");
        assert!(!push_error("weird").is_ascii());
    }

    #[test]
    fn rule_1001_names_both_names() {
        let reason =
            "未查询到主体或查询到的主体信息不匹配：主体名称与统一社会信用代码不匹配（主体库登记名称：淮相市甲公司）";
        let advice = return_advice(Some("1001"), reason, Some("淮相市乙公司"));
        assert!(advice.contains("“淮相市乙公司”与主体库名称“淮相市甲公司”不一致"), "{advice}");
        let pre = "预判退回（未推送）：…（统一社会信用代码 X，主体库登记名称：甲，本记录名称：乙）";
        assert!(return_advice(Some("1001"), pre, Some("乙")).contains("“乙”与主体库名称“甲”"));
        assert!(return_advice(None, "x", None).contains("重新提交"));
        // A registered name with full-width brackets is read whole, not cut at its first ）.
        let bracketed = "主体名称与统一社会信用代码不匹配（主体库登记名称：淮北市某某（集团）有限公司）";
        assert!(
            return_advice(Some("1001"), bracketed, Some("淮北市某某集团有限公司"))
                .contains("与主体库名称“淮北市某某（集团）有限公司”不一致"),
            "{}",
            return_advice(Some("1001"), bracketed, Some("淮北市某某集团有限公司"))
        );
    }

    #[test]
    fn field_keys_become_names_and_paths_file_names() {
        let names = vec![("CF_NR_FK".to_string(), "罚款金额（万元）".to_string())];
        assert_eq!(field_names_in("CF_NR_FK 超出上限", &names), "罚款金额（万元） 超出上限");
        assert_eq!(file_name("/srv/data/inbox/market/处罚.csv"), "处罚.csv");
        assert_eq!(file_name("C:\\in\\a.xlsx"), "a.xlsx");
        assert_eq!(file_name("a.csv"), "a.csv");
    }
}
