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

/// A natural person's subject key begins so: `Z` never occurs in a 统一社会信用代码 (GB 32100
/// leaves out I, O, Z, S and V), so a person's key cannot be taken for an organisation's.
pub const PERSON_PREFIX: &str = "ZR";

/// Whether a subject key is a natural person's.
pub fn is_person(code: &str) -> bool {
    code.starts_with(PERSON_PREFIX)
}

/// The installation's key for natural persons' subject keys (kept in the store, shared by the
/// instances). An ID number has too few possibilities for a plain hash to hide it: keyed, a
/// subject key reveals nothing without the key, and the number itself is never stored as one.
#[derive(Clone)]
pub struct PersonKey([u8; 32]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(…)")
    }
}

impl PersonKey {
    pub fn new(bytes: [u8; 32]) -> PersonKey {
        PersonKey(bytes)
    }

    /// The subject key of a valid 居民身份证号码 (`None` for anything else, a masked number
    /// included: it would merge different people). `ZR` and 16 hexadecimal digits: 18
    /// characters, like a credit code.
    pub fn subject(&self, id_number: &str) -> Option<String> {
        let id = crate::ids::IdNumber::parse(id_number).ok()?;
        let hash = blake3::keyed_hash(&self.0, id.as_str().as_bytes());
        let hex: String = hash.as_bytes()[..8].iter().map(|b| format!("{b:02X}")).collect();
        Some(format!("{PERSON_PREFIX}{hex}"))
    }
}

/// The subject a record's content names: (credit code, name). Without a credit code, a
/// natural person's key from the ID number where `persons` is given (else `None`). `None` also
/// for items without a subject and for the 个体工商户 placeholder code without an ID number.
pub fn of_content(
    item: &Item,
    content: &serde_json::Map<String, serde_json::Value>,
    persons: Option<&PersonKey>,
) -> Option<(String, String)> {
    let text = |i: Option<usize>| i.and_then(|i| content.get(&item.fields[i].key)).and_then(|v| v.as_str());
    let name = name_of(item, content);
    let code = text(item.subject_code).map(str::trim).unwrap_or("");
    if !code.is_empty() && code != crate::ids::CREDIT_CODE_PLACEHOLDER {
        return Some((code.to_ascii_uppercase(), name));
    }
    let person = persons?.subject(text(item.subject_id)?)?;
    Some((person, name))
}

/// The subject's name as a record's content gives it (empty when it gives none).
pub fn name_of(item: &Item, content: &serde_json::Map<String, serde_json::Value>) -> String {
    item.subject_name.and_then(|i| content.get(&item.fields[i].key)).and_then(|v| v.as_str()).unwrap_or("").to_string()
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
    fn a_person_is_keyed_by_the_hash_of_a_valid_id_number_only() {
        let key = PersonKey::new([7; 32]);
        let a = key.subject("11010519491231002x").unwrap();
        assert_eq!(a, key.subject(" 11010519491231002X ").unwrap(), "case and spaces do not matter");
        assert!(is_person(&a) && a.len() == 18 && a[2..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert!(!a.contains("110105"), "nothing of the number shows");
        assert_ne!(
            a,
            PersonKey::new([8; 32]).subject("11010519491231002X").unwrap(),
            "another installation, another key"
        );
        assert_eq!(key.subject("110105********002X"), None, "a masked number names nobody");
        assert_eq!(key.subject("110105194912310021"), None, "a wrong check digit names nobody");
        assert!(format!("{key:?}").contains('…'), "the key is never printed");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_anywhere("a%b_c"), "%a\\%b\\_c%");
    }
}
