//! A subject (市场主体) as the credit file sees it: the key names are searched in, what a query
//! asks for, and which subject a stored record or feed record concerns (read from its content
//! through the catalogue's `subject_code` / `subject_name` fields).

use crate::catalogue::Item;
use crate::transform::name_key;

/// The form a name is searched in: `transform::name_key` (full-width → half-width, no spaces),
/// other bracket shapes (【】〔〕［］) as `()`, ASCII lower-cased, and 有限责任公司 read as 有限公司
/// (people type either for the same company). The query goes through the same folding.
pub fn search_key(name: &str) -> String {
    let folded: String = name_key(name)
        .chars()
        .map(|c| match c {
            '【' | '〔' | '［' | '[' | '{' => '(',
            '】' | '〕' | '］' | ']' | '}' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    folded.replace("有限责任公司", "有限公司").replace("有限责任", "有限")
}

/// A query that may be (the start of) a credit code: ASCII letters and digits only, with a
/// digit, at least 4 characters. Returned upper-cased.
pub fn code_query(q: &str) -> Option<String> {
    let q = crate::transform::normalize_text(q);
    let ok = q.len() >= 4
        && q.len() <= 18
        && q.chars().all(|c| c.is_ascii_alphanumeric())
        && q.chars().any(|c| c.is_ascii_digit());
    ok.then(|| q.to_ascii_uppercase())
}

/// The subject a record's content names: (credit code, name). `None` for items without a
/// subject, for a natural person without a code, and for the 个体工商户 placeholder code.
pub fn of_content(item: &Item, content: &serde_json::Map<String, serde_json::Value>) -> Option<(String, String)> {
    let code_key = &item.fields[item.subject_code?].key;
    let code = content.get(code_key)?.as_str()?.trim();
    if code.is_empty() || code == crate::ids::CREDIT_CODE_PLACEHOLDER {
        return None;
    }
    let name = item
        .subject_name
        .and_then(|i| content.get(&item.fields[i].key))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    Some((code.to_ascii_uppercase(), name))
}

/// The text of `key` in a record's content, if any.
pub fn field<'a>(content: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> Option<&'a str> {
    content.get(key).and_then(|v| v.as_str())
}

/// A LIKE pattern matching `text` anywhere, with `\` as the escape character.
pub fn like_anywhere(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_width_brackets_and_company_forms() {
        assert_eq!(search_key("安徽 某某（集团）有限责任公司"), search_key("安徽某某(集团)有限公司"));
        assert_eq!(search_key("【宿州】ＡＢＣ贸易有限公司"), "(宿州)abc贸易有限公司");
        assert!(search_key("宣城市某某建材有限责任公司").contains(&search_key("建材有限责任")));
    }

    #[test]
    fn code_queries_are_alphanumeric_with_a_digit() {
        assert_eq!(code_query(" 91341800ma2 ").as_deref(), Some("91341800MA2"));
        assert_eq!(code_query("宣城"), None);
        assert_eq!(code_query("ABCD"), None);
        assert_eq!(code_query("913"), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_anywhere("a%b_c"), "%a\\%b\\_c%");
    }
}
