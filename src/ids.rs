//! Identifier checks (SPEC §3): 统一社会信用代码, 组织机构代码 and 居民身份证号.
//!
//! Pure functions over strings. A value either becomes a checked newtype or an [`IdError`]
//! that says exactly what is wrong, in English for logs and in Chinese for the clerk who
//! has to correct the source data. No error ever carries a full personal ID number, and
//! [`mask_ids_in_text`] is the one detector that hides ID numbers in whatever is shown.

use std::fmt;

use chrono::NaiveDate;

/// What platforms send for a 个体工商户 without a credit code (SPEC §3). It is valid only
/// beside a filled 工商注册号, which only the caller can see, so `CreditCode::parse` refuses it.
pub const CREDIT_CODE_PLACEHOLDER: &str = "00000000000000000X";

/// Passes the GB 32100 sum, yet no entity holds it (SPEC §3).
const CREDIT_CODE_ALL_ZERO: &str = "000000000000000000";

/// GB 32100-2015 symbols in value order 0–30; I O S V Z are left out as easily misread.
pub const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 3^(i-1) mod 31 for positions 1–17 (GB 32100-2015).
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// GB 11714-1997 weights for the 8 body characters.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643-1999 (ISO 7064 MOD 11-2) weights for the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643 check character, indexed by the weighted sum mod 11.
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";
/// The characters a GB 11643 check character can be, in ascending order (the same set as
/// `ID_CHECK_CHARS`, which is ordered by remainder).
pub const ID_CHECK_SYMBOLS: &[u8; 11] = b"0123456789X";
/// Birth years accepted in an ID number: wide enough for centenarians and data-entry
/// oddities, narrow enough to catch digits shifted into the date.
const BIRTH_YEARS: std::ops::RangeInclusive<u32> = 1800..=2100;

/// Why a value is not a valid identifier. Positions are 1-based character positions, as a
/// clerk counts them; lengths count characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("length should be {expected} characters, found {found}")]
    Length { expected: usize, found: usize },
    #[error("forbidden character {ch:?} at position {position}")]
    ForbiddenChar { position: usize, ch: char },
    #[error("check character should be {expected}, found {found}")]
    CheckChar { expected: char, found: char },
    #[error("an all-zero code is not a real credit code")]
    AllZero,
    #[error("{CREDIT_CODE_PLACEHOLDER} is the placeholder for a missing credit code")]
    Placeholder,
    #[error("birth date is not a real date")]
    BadBirthDate,
    #[error("not shaped like a credit code, organisation code or resident id number")]
    UnknownShape,
}

impl IdError {
    /// The reason in Chinese, for the department clerk who must correct the value.
    pub fn zh(&self) -> String {
        match *self {
            IdError::Length { expected, found } => {
                format!("长度应为 {expected} 位，实为 {found} 位")
            }
            IdError::ForbiddenChar { position, ch } => {
                format!("含非法字符 “{}”（第 {position} 位）", visible(ch))
            }
            IdError::CheckChar { expected, found } => {
                format!("校验位错误：应为 {expected}，实为 {found}")
            }
            IdError::AllZero => "代码不能全为 0".to_string(),
            IdError::Placeholder => {
                format!("{CREDIT_CODE_PLACEHOLDER} 是无代码个体工商户的占位代码，不是有效代码")
            }
            IdError::BadBirthDate => "出生日期无效".to_string(),
            IdError::UnknownShape => {
                "无法识别的代码：应为 18 位统一社会信用代码或身份证号码，或 9 位组织机构代码".to_string()
            }
        }
    }
}

/// Shows an invisible character as its code point, so the clerk can find it.
fn visible(ch: char) -> String {
    if ch.is_control() || ch.is_whitespace() { format!("U+{:04X}", u32::from(ch)) } else { ch.to_string() }
}

/// 统一社会信用代码 (GB 32100-2015): upper-case, check character verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    /// Trims and upper-cases ASCII letters first: departments type codes by hand.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let trimmed = s.trim();
        expect_len(trimmed, 18)?;
        let code = trimmed.to_ascii_uppercase();
        if code == CREDIT_CODE_PLACEHOLDER {
            return Err(IdError::Placeholder);
        }
        let (first17, last) = split_last(&code, 18)?;
        let sum = weighted_sum(first17, &CREDIT_WEIGHTS, credit_value)?;
        if credit_value(last).is_none() {
            return Err(IdError::ForbiddenChar { position: 18, ch: last });
        }
        if code == CREDIT_CODE_ALL_ZERO {
            return Err(IdError::AllZero);
        }
        check(credit_check(sum), last)?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Positions 3–8: the registering authority's division code (GB/T 2260), which routes
    /// records by jurisdiction (SPEC §3).
    pub fn region(&self) -> &str {
        // `parse` guarantees 18 ASCII characters.
        self.0.get(2..8).unwrap_or_default()
    }

    /// 个体工商户 (registered by 市场监管, kind 2) are natural persons in business; their
    /// names may be personal information.
    pub fn is_individual_business(&self) -> bool {
        self.0.starts_with("92")
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The GB 32100 check character for 17 symbols, or `None` when `first17` is not exactly
/// 17 upper-case symbols of the alphabet.
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    weighted_sum(first17, &CREDIT_WEIGHTS, credit_value).ok().map(credit_check)
}

fn credit_value(c: char) -> Option<u32> {
    CREDIT_ALPHABET.iter().position(|&b| char::from(b) == c).and_then(|p| u32::try_from(p).ok())
}

fn credit_check(sum: u32) -> char {
    // (31 - sum mod 31) mod 31 is always below 31, the alphabet's length.
    char::from(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// 组织机构代码 (GB 11714-1997): the 9 characters without the hyphen, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgCode(String);

impl OrgCode {
    /// Accepts `19220382-1` and `192203821`: the hyphen is printed on certificates but
    /// often dropped in data. Error positions count the 9 characters without the hyphen.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let trimmed = s.trim();
        let hyphenated = trimmed.chars().count() == 10 && trimmed.chars().nth(8) == Some('-');
        let code: String = if hyphenated {
            trimmed.chars().enumerate().filter(|&(i, _)| i != 8).map(|(_, c)| c.to_ascii_uppercase()).collect()
        } else {
            expect_len(trimmed, 9)?;
            trimmed.to_ascii_uppercase()
        };
        let (first8, last) = split_last(&code, 9)?;
        let sum = weighted_sum(first8, &ORG_WEIGHTS, org_value)?;
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(IdError::ForbiddenChar { position: 9, ch: last });
        }
        check(org_check(sum), last)?;
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The GB 11714 check character for 8 characters `[0-9A-Z]`, or `None` otherwise.
pub fn org_code_check_char(first8: &str) -> Option<char> {
    weighted_sum(first8, &ORG_WEIGHTS, org_value).ok().map(org_check)
}

fn org_value(c: char) -> Option<u32> {
    if c.is_ascii_digit() || c.is_ascii_uppercase() { c.to_digit(36) } else { None }
}

fn org_check(sum: u32) -> char {
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        // 1..=9: a single digit.
        d => char::from(b'0' + d as u8),
    }
}

/// 居民身份证号码 (GB 11643-1999). Personal information: its `Debug` is masked and it has
/// no `Display`, so it cannot slip into a log line whole.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Trims and normalises a lower-case `x` check character to `X`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let trimmed = s.trim();
        let (first17, last) = split_last(trimmed, 18)?;
        let sum = weighted_sum(first17, &ID_WEIGHTS, |c| c.to_digit(10))?;
        let last_upper = last.to_ascii_uppercase();
        if !(last_upper.is_ascii_digit() || last_upper == 'X') {
            return Err(IdError::ForbiddenChar { position: 18, ch: last });
        }
        if birth_date(first17).is_none() {
            return Err(IdError::BadBirthDate);
        }
        check(id_check(sum), last_upper)?;
        let mut id = String::with_capacity(18);
        id.push_str(first17);
        id.push(last_upper);
        Ok(Self(id))
    }

    /// The full number: for the platform payload only, never for logs or the UI.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `110105********002X`, as shown in logs and the UI (SPEC §3).
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

/// The GB 11643 check character for 17 ASCII digits, or `None` otherwise.
pub fn id_number_check_char(first17: &str) -> Option<char> {
    weighted_sum(first17, &ID_WEIGHTS, |c| c.to_digit(10)).ok().map(id_check)
}

fn id_check(sum: u32) -> char {
    // sum mod 11 is always below 11, the table's length.
    char::from(ID_CHECK_CHARS[(sum % 11) as usize])
}

/// Positions 7–14 as a real calendar date in `BIRTH_YEARS`; `first17` is ASCII digits.
fn birth_date(first17: &str) -> Option<NaiveDate> {
    let year = ascii_number(first17.get(6..10)?)?;
    let month = ascii_number(first17.get(10..12)?)?;
    let day = ascii_number(first17.get(12..14)?)?;
    if !BIRTH_YEARS.contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Masks any value that may be a personal ID for logs/UI, valid or not: keep the first 6
/// and last 4 characters, `*` between (`110105********002X`); values shorter than 11
/// characters become all `*` of the same count, since there is too little left to hide.
/// Counts characters, not bytes, so it never splits one.
pub fn mask_id_number(s: &str) -> String {
    let n = s.chars().count();
    if n < 11 {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i < 6 || i >= n - 4 { c } else { '*' }).collect()
}

/// `text` with every resident ID number in it masked: the one detector every output uses
/// (web answers, exports, error reports, the command line).
///
/// A candidate is a whole run of digits (ASCII or full-width `０`–`９`): 15 digits (an old
/// ID, masked whatever they hold), or 17 digits and a check character (`X`, `x`, `Ｘ`, `ｘ`
/// or a digit). Letters may touch it on either side (`ID340602…`, `…002X号`), digits may
/// not: a longer run is some other number. An 18-character candidate is left alone only
/// when it is a 统一社会信用代码 and not a valid-looking ID number (see
/// [`is_personal_id`]); a mistyped ID is still someone's, so a wrong check character is
/// masked too. Masking keeps each character's own width for the 6 + 4 kept characters.
pub fn mask_ids_in_text(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    while let Some(first) = text[pos..].chars().next() {
        if id_digit(first).is_none() {
            pos += first.len_utf8();
            continue;
        }
        let (mut digits, mut run_end) = (0, pos);
        for c in text[pos..].chars().take_while(|&c| id_digit(c).is_some()) {
            digits += 1;
            run_end += c.len_utf8();
        }
        let end = match digits {
            15 | 18 => run_end,
            17 => match text[run_end..].chars().next() {
                Some(x) if is_x(x) => run_end + x.len_utf8(),
                _ => pos,
            },
            _ => pos,
        };
        if end == pos {
            pos = run_end;
            continue;
        }
        let candidate = &text[pos..end];
        if digits == 15 || is_personal_id(candidate) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..pos]);
            o.push_str(&mask_id_number(candidate));
            copied = end;
        }
        pos = end;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// Every string in a JSON document masked with [`mask_ids_in_text`]; numbers, keys and
/// structure stay as they are (masking the serialised text could break a long number).
pub fn mask_ids_in_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let std::borrow::Cow::Owned(masked) = mask_ids_in_text(s) {
                *s = masked;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_ids_in_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(mask_ids_in_json),
        _ => {}
    }
}

/// Whether 17 digits and a check character (either width) must be hidden: yes when it is a
/// valid-looking ID number (a province code of GB/T 2260, a real birth date, the right
/// GB 11643 check character), else no only when it is a valid 统一社会信用代码 (or its
/// well-known placeholder). The two checks are independent (mod 11 and mod 31), so a real
/// credit code almost never passes for an ID; when both pass, privacy wins.
pub fn is_personal_id(candidate: &str) -> bool {
    let ascii: String = candidate
        .chars()
        .map(|c| match id_digit(c) {
            Some(d) => char::from(b'0' + d),
            None if is_x(c) => 'X',
            None => c,
        })
        .collect();
    let province = ascii.get(..2).and_then(ascii_number).is_some_and(|p| PROVINCES.contains(&p));
    if province && IdNumber::parse(&ascii).is_ok() {
        return true;
    }
    let credit_code =
        CreditCode::parse(&ascii).is_ok() || ascii == CREDIT_CODE_PLACEHOLDER || ascii == CREDIT_CODE_ALL_ZERO;
    !credit_code
}

/// The first two digits of a GB/T 2260 division: the provinces, and 81–83 for the
/// residence permits of Hong Kong, Macao and Taiwan residents.
const PROVINCES: &[u32] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];

/// The value of an ASCII or full-width digit.
fn id_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '０'..='９' => u8::try_from(u32::from(c) - u32::from('０')).ok(),
        _ => None,
    }
}

fn is_x(c: char) -> bool {
    matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ')
}

/// The identifier kinds `check_any` can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    CreditCode,
    OrgCode,
    IdNumber,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::CreditCode => "credit_code",
            IdKind::OrgCode => "org_code",
            IdKind::IdNumber => "id_number",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `credit-gateway id check VALUE` reports: the guessed kind and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCheck {
    pub kind: Option<IdKind>,
    pub result: Result<(), IdError>,
}

/// Guesses the kind from the shape, then checks it. 18 characters are an ID number when
/// the first 17 are digits and positions 7–14 look like a date (year 1800–2100, month
/// 01–12, day 01–31), else a credit code; 9 characters, or 10 with a `-` at position 9,
/// are an organisation code; anything else is `UnknownShape`.
pub fn check_any(value: &str) -> IdCheck {
    let v = value.trim();
    let kind = match v.chars().count() {
        18 if looks_like_id_number(v) => Some(IdKind::IdNumber),
        18 => Some(IdKind::CreditCode),
        9 => Some(IdKind::OrgCode),
        10 if v.chars().nth(8) == Some('-') => Some(IdKind::OrgCode),
        _ => None,
    };
    let result = match kind {
        Some(IdKind::CreditCode) => CreditCode::parse(v).map(|_| ()),
        Some(IdKind::OrgCode) => OrgCode::parse(v).map(|_| ()),
        Some(IdKind::IdNumber) => IdNumber::parse(v).map(|_| ()),
        None => Err(IdError::UnknownShape),
    };
    IdCheck { kind, result }
}

fn looks_like_id_number(v: &str) -> bool {
    let Some(first17) = v.get(..17) else {
        return false;
    };
    let field = |range: std::ops::Range<usize>| first17.get(range).and_then(ascii_number);
    first17.bytes().all(|b| b.is_ascii_digit())
        && field(6..10).is_some_and(|y| BIRTH_YEARS.contains(&y))
        && field(10..12).is_some_and(|m| (1..=12).contains(&m))
        && field(12..14).is_some_and(|d| (1..=31).contains(&d))
}

/// The value of a short run of ASCII digits; `None` for anything else.
fn ascii_number(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u32, |acc, b| {
        let digit = char::from(b).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

fn expect_len(s: &str, expected: usize) -> Result<(), IdError> {
    let found = s.chars().count();
    if found == expected { Ok(()) } else { Err(IdError::Length { expected, found }) }
}

/// Splits off the check character of a value that must be `len` characters long.
fn split_last(s: &str, len: usize) -> Result<(&str, char), IdError> {
    expect_len(s, len)?;
    match s.char_indices().next_back() {
        Some((i, last)) => Ok((s.get(..i).unwrap_or_default(), last)),
        None => Err(IdError::Length { expected: len, found: 0 }),
    }
}

/// Σ value·weight over exactly `weights.len()` characters, naming the first character
/// that `value` refuses.
fn weighted_sum(s: &str, weights: &[u32], value: impl Fn(char) -> Option<u32>) -> Result<u32, IdError> {
    let mut chars = s.chars();
    let mut sum = 0;
    for (i, w) in weights.iter().enumerate() {
        let Some(ch) = chars.next() else {
            return Err(IdError::Length { expected: weights.len(), found: i });
        };
        let v = value(ch).ok_or(IdError::ForbiddenChar { position: i + 1, ch })?;
        sum += v * w;
    }
    let extra = chars.count();
    if extra > 0 {
        return Err(IdError::Length { expected: weights.len(), found: weights.len() + extra });
    }
    Ok(sum)
}

fn check(expected: char, found: char) -> Result<(), IdError> {
    if expected == found { Ok(()) } else { Err(IdError::CheckChar { expected, found }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_in_free_text_are_masked() {
        let text = r#"{"SX_ZJHM":"11010519491231002X","n":"110105491231002","code":"91340600MA2PBM9HXD","amount":"123456789012345678901"}"#;
        let masked = mask_ids_in_text(text);
        assert!(masked.contains("110105********002X"), "{masked}");
        assert!(masked.contains("110105*****1002"), "{masked}");
        assert!(!masked.contains("19491231"), "{masked}");
        assert!(masked.contains("91340600MA2PBM9HXD") && masked.contains("123456789012345678901"), "{masked}");
        assert_eq!(mask_ids_in_text("行政处罚 2024"), "行政处罚 2024");
    }

    #[test]
    fn ids_with_letters_around_them_are_masked() {
        let cases = [
            ("ID11010519491231002X", "ID110105********002X"),
            ("id:11010519491231002x号", "id:110105********002x号"),
            ("证件号11010519491231002Xabc", "证件号110105********002Xabc"),
            ("SFZ440524188001010014", "SFZ440524********0014"),
            ("No110105491231002a", "No110105*****1002a"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_ids_in_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn full_width_ids_are_masked() {
        let cases = [
            ("１１０１０５１９４９１２３１００２Ｘ", "１１０１０５********００２Ｘ"),
            ("号码：１１０１０５１９４９１２３１００２ｘ。", "号码：１１０１０５********００２ｘ。"),
            ("１１０１０５19491231002X", "１１０１０５********002X"),
            ("ID１１０１０５４９１２３１００２", "ID１１０１０５*****１００２"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_ids_in_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn ids_inside_business_keys_are_masked() {
        let key =
            format!("CF{}11010519491231002X{}2024-03-31", crate::record::KEY_SEPARATOR, crate::record::KEY_SEPARATOR);
        let masked = mask_ids_in_text(&key);
        assert!(masked.contains("110105********002X") && !masked.contains("19491231"), "{masked:?}");
        assert!(masked.ends_with("2024-03-31"));
        assert_eq!(
            mask_ids_in_text("CF|11010519491231002X|淮相市监罚〔2024〕12号"),
            "CF|110105********002X|淮相市监罚〔2024〕12号"
        );
        assert_eq!(
            mask_ids_in_text("（2024）皖0602执1234号 / 440524188001010014 / 张伟"),
            "（2024）皖0602执1234号 / 440524********0014 / 张伟"
        );
    }

    #[test]
    fn credit_codes_and_other_numbers_are_left_alone() {
        let mut texts: Vec<String> = VALID_CREDIT_CODES.iter().map(|c| format!("CF|{c}|2024")).collect();
        texts.extend(VALID_CREDIT_CODES.iter().map(|c| format!("代码{}", c.to_lowercase())));
        // All digits, a province code and a real date in the ID's place, a wrong ID check
        // character: a credit code that looks like an ID at first sight.
        let lookalike = (0..1000)
            .map(|seq| format!("11010519491231{seq:03}"))
            .find_map(|first17| {
                let credit = credit_code_check_char(&first17)?;
                let id = id_number_check_char(&first17)?;
                (credit.is_ascii_digit() && credit != id).then(|| format!("{first17}{credit}"))
            })
            .expect("some sequence gives one");
        assert!(CreditCode::parse(&lookalike).is_ok() && IdNumber::parse(&lookalike).is_err());
        texts.push(lookalike);
        texts.extend(
            [
                CREDIT_CODE_PLACEHOLDER,
                "1101051949123100",      // 16 digits
                "1101051949123100211",   // 19 digits
                "123456789012345678901", // an amount
                "ID1101051949123100",    // 16 digits after letters
                "13800138000",           // a mobile number
                "2024-03-31T08:00:00.000Z",
                "行政处罚 2024",
            ]
            .map(String::from),
        );
        for text in texts {
            assert_eq!(mask_ids_in_text(&text), text.as_str(), "{text:?}");
            assert!(matches!(mask_ids_in_text(&text), std::borrow::Cow::Borrowed(_)), "no copy: {text:?}");
        }
    }

    #[test]
    fn a_mistyped_id_is_still_masked_unless_it_is_a_credit_code() {
        // Wrong check character, and not a credit code either.
        assert!(CreditCode::parse("110105194912310021").is_err());
        assert_eq!(mask_ids_in_text("110105194912310021"), "110105********0021");
        // A real ID that also happens to be a valid credit code stays hidden.
        let both = (0..1000)
            .map(|seq| with_id_check(&format!("34060219850101{seq:03}")))
            .find(|id| CreditCode::parse(id).is_ok())
            .expect("about one in 31 is");
        assert_eq!(mask_ids_in_text(&both), mask_id_number(&both));
    }

    #[test]
    fn generated_ids_are_masked_wherever_they_sit() {
        let mut rng = Lcg(4);
        let first_day = NaiveDate::from_ymd_opt(1900, 1, 1).expect("real date");
        let affixes = ["", "ID", "证号", "x", "Ａ", " ", "|", "\u{1f}"];
        for _ in 0..300 {
            let birth = first_day + chrono::Days::new(rng.below(45_000) as u64);
            let province = PROVINCES[rng.below(PROVINCES.len())];
            let area = rng.below(10_000);
            let id = with_id_check(&format!("{province}{area:04}{}{:03}", birth.format("%Y%m%d"), rng.below(1000)));
            let full_width: String = id
                .chars()
                .map(|c| if c == 'X' { 'Ｘ' } else { char::from_u32(u32::from(c) - 0x30 + 0xFF10).unwrap_or(c) })
                .collect();
            for shown in [id.clone(), full_width] {
                let middle: String = shown.chars().skip(6).take(8).collect();
                let text = format!("{}{shown}{}", affixes[rng.below(affixes.len())], affixes[rng.below(affixes.len())]);
                let masked = mask_ids_in_text(&text);
                assert!(!masked.contains(&middle) && masked.contains("********"), "{text:?} -> {masked:?}");
                assert_eq!(mask_ids_in_text(&masked), masked.as_ref(), "masking twice changes nothing");
            }
        }
    }

    #[test]
    fn json_strings_are_masked_and_numbers_kept() {
        let mut v = serde_json::json!({
            "business_key": "UTIL_QF\u{1f}11010519491231002X\u{1f}2024-03-31",
            "content": "{\"QF_ZJHM\":\"ID11010519491231002X\"}",
            "nested": [{"reason": "“１１０１０５１９４９１２３１００２Ｘ”不是完整日期"}],
            "big": 110105194912310021_u64,
            "ok": true,
        });
        mask_ids_in_json(&mut v);
        for key in ["business_key", "content"] {
            assert!(v[key].as_str().is_some_and(|s| s.contains("110105********002X")), "{v}");
        }
        let text = v.to_string().replace("110105194912310021", "");
        assert!(!text.contains("19491231") && !text.contains("１９４９１２３１"), "{text}");
        assert_eq!(v["big"], 110_105_194_912_310_021_u64);
        assert_eq!(v["nested"][0]["reason"], "“１１０１０５********００２Ｘ”不是完整日期");
    }

    /// Deterministic pseudo-random numbers (64-bit LCG): repeatable property tests without
    /// a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick(&mut self, alphabet: &[u8]) -> char {
            char::from(alphabet[self.below(alphabet.len())])
        }
    }

    fn len(expected: usize, found: usize) -> IdError {
        IdError::Length { expected, found }
    }

    fn forbidden(position: usize, ch: char) -> IdError {
        IdError::ForbiddenChar { position, ch }
    }

    fn check_char(expected: char, found: char) -> IdError {
        IdError::CheckChar { expected, found }
    }

    /// `first17` with its correct ID check character appended.
    fn with_id_check(first17: &str) -> String {
        let check = id_number_check_char(first17).expect("17 digits");
        format!("{first17}{check}")
    }

    const VALID_CREDIT_CODES: [&str; 10] = [
        "914403001922038216",
        "9144030071526726XG",
        "91110000600037341L",
        "91310000631696382C",
        "121200004013590816",
        "91340600MA2PBM9HXD",
        "92340602MA2PBMEM24",
        "91620105L015101280",
        "11230500001755309F",
        "91110108551385082Q",
    ];

    #[test]
    fn credit_code_spec_examples_are_valid() {
        for code in VALID_CREDIT_CODES {
            let parsed = CreditCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn credit_code_refusals() {
        let fujian_check = credit_code_check_char("91350100M0001TGQX").expect("17 symbols");
        let cases = [
            ("914403001922038217", check_char('6', '7')),
            ("91110000600037341N", check_char('L', 'N')),
            ("9111000060003IOZSV", forbidden(14, 'I')),
            ("000000000000000000", IdError::AllZero),
            ("00000000000000000X", IdError::Placeholder),
            ("00000000000000000x", IdError::Placeholder),
            // Fujian pilot code: legally issued, fails the check (config makes it a warning).
            ("91350100M0001TGQXM", check_char(fujian_check, 'M')),
            ("91440300192203821", len(18, 17)),
            ("9144030019220382166", len(18, 19)),
            ("", len(18, 0)),
            ("91440300192203821中", forbidden(18, '中')),
            ("９14403001922038216", forbidden(1, '９')),
            ("91440300-922038216", forbidden(9, '-')),
        ];
        for (input, expected) in cases {
            assert_eq!(CreditCode::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn credit_code_is_trimmed_and_upper_cased() {
        let code = CreditCode::parse("  9144030071526726xg\t").expect("valid after normalising");
        assert_eq!(code.as_str(), "9144030071526726XG");
        assert_eq!(code.to_string(), "9144030071526726XG");
    }

    #[test]
    fn credit_code_parts() {
        let cases = [
            ("914403001922038216", "440300", false),
            ("92340602MA2PBMEM24", "340602", true),
            ("121200004013590816", "120000", false),
        ];
        for (input, region, individual) in cases {
            let code = CreditCode::parse(input).expect("spec example");
            assert_eq!(code.region(), region, "{input}");
            assert_eq!(code.is_individual_business(), individual, "{input}");
        }
    }

    #[test]
    fn credit_weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for expected in CREDIT_WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn check_char_functions_need_exact_input() {
        type CheckFn = fn(&str) -> Option<char>;
        let cases: [(CheckFn, &str, Option<char>); 14] = [
            (credit_code_check_char, "91440300192203821", Some('6')),
            (credit_code_check_char, "9111000060003734", None),
            (credit_code_check_char, "914403001922038216", None),
            (credit_code_check_char, "9144030019220382I", None),
            (credit_code_check_char, "9144030071526726x", None),
            (credit_code_check_char, "", None),
            (org_code_check_char, "19220382", Some('1')),
            (org_code_check_char, "71526726", Some('X')),
            (org_code_check_char, "1922038", None),
            (org_code_check_char, "192203821", None),
            (org_code_check_char, "1922038a", None),
            (id_number_check_char, "11010519491231002", Some('X')),
            (id_number_check_char, "1101051949123100", None),
            (id_number_check_char, "1101051949123100A", None),
        ];
        for (check, input, expected) in cases {
            assert_eq!(check(input), expected, "{input:?}");
        }
    }

    #[test]
    fn generated_credit_codes_parse() {
        let mut rng = Lcg(1);
        for _ in 0..300 {
            let prefix: String = (0..17).map(|_| rng.pick(CREDIT_ALPHABET)).collect();
            let check = credit_code_check_char(&prefix).expect("17 symbols");
            let code = format!("{prefix}{check}");
            if code == CREDIT_CODE_ALL_ZERO {
                continue;
            }
            assert_eq!(CreditCode::parse(&code).map(|c| c.0), Ok(code.clone()));
            // Any single substitution is caught: every weight is invertible mod 31.
            let mut chars: Vec<char> = code.chars().collect();
            let pos = rng.below(17);
            let old = chars[pos];
            while chars[pos] == old {
                chars[pos] = rng.pick(CREDIT_ALPHABET);
            }
            let typo: String = chars.into_iter().collect();
            let refused = CreditCode::parse(&typo);
            assert!(matches!(refused, Err(IdError::CheckChar { .. })), "{typo}");
        }
    }

    #[test]
    fn org_codes() {
        let cases = [
            ("19220382-1", Ok("192203821")),
            ("192203821", Ok("192203821")),
            ("71526726-X", Ok("71526726X")),
            ("71526726X", Ok("71526726X")),
            ("71526726-x", Ok("71526726X")),
            (" 60003734-1 ", Ok("600037341")),
            ("MA2PBM9H-X", Ok("MA2PBM9HX")),
            ("19220382-2", Err(check_char('1', '2'))),
            ("1922038-21", Err(len(9, 10))),
            ("19220382--1", Err(len(9, 11))),
            ("1-220382-1", Err(forbidden(2, '-'))),
            ("1922038é1", Err(forbidden(8, 'é'))),
            ("19220382Y", Err(forbidden(9, 'Y'))),
            ("", Err(len(9, 0))),
        ];
        for (input, expected) in cases {
            assert_eq!(OrgCode::parse(input).map(|c| c.0), expected.map(String::from), "{input:?}");
        }
    }

    #[test]
    fn credit_codes_embed_valid_org_codes() {
        for code in VALID_CREDIT_CODES {
            let org = code.get(8..17).expect("ASCII");
            assert!(OrgCode::parse(org).is_ok(), "{org} in {code}");
        }
    }

    #[test]
    fn generated_org_codes_parse() {
        const BODY: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut rng = Lcg(2);
        for _ in 0..300 {
            let prefix: String = (0..8).map(|_| rng.pick(BODY)).collect();
            let check = org_code_check_char(&prefix).expect("8 characters");
            let code = format!("{prefix}{check}");
            assert_eq!(OrgCode::parse(&code).map(|c| c.0), Ok(code.clone()));
            let hyphenated = format!("{prefix}-{check}");
            assert_eq!(OrgCode::parse(&hyphenated).map(|c| c.0), Ok(code));
        }
    }

    #[test]
    fn id_numbers() {
        let feb_31 = with_id_check("11010519490231002");
        let year_1799 = with_id_check("11010517991231002");
        let cases = [
            ("11010519491231002X", Ok("11010519491231002X")),
            ("11010519491231002x", Ok("11010519491231002X")),
            (" 11010519491231002x\n", Ok("11010519491231002X")),
            ("440524188001010014", Ok("440524188001010014")),
            ("110105194912310021", Err(check_char('X', '1'))),
            ("440524188001010015", Err(check_char('4', '5'))),
            (&feb_31, Err(IdError::BadBirthDate)),
            (&year_1799, Err(IdError::BadBirthDate)),
            ("11010519491231002", Err(len(18, 17))),
            ("110105194912310", Err(len(18, 15))),
            ("1101051949123100XX", Err(forbidden(17, 'X'))),
            ("11010519491231002Y", Err(forbidden(18, 'Y'))),
            ("１10105194912310021", Err(forbidden(1, '１'))),
        ];
        for (input, expected) in cases {
            assert_eq!(IdNumber::parse(input).map(|c| c.0), expected.map(String::from), "{input:?}");
        }
    }

    #[test]
    fn generated_id_numbers_parse() {
        let mut rng = Lcg(3);
        let first_day = NaiveDate::from_ymd_opt(1900, 1, 1).expect("real date");
        for _ in 0..300 {
            let birth = first_day + chrono::Days::new(rng.below(73_000) as u64);
            let area = rng.below(1_000_000);
            let sequence = rng.below(1000);
            let id = with_id_check(&format!("{area:06}{}{sequence:03}", birth.format("%Y%m%d")));
            assert_eq!(IdNumber::parse(&id).map(|i| i.0), Ok(id.clone()));
            assert_eq!(check_any(&id).kind, Some(IdKind::IdNumber), "{id}");
            // A single wrong digit is caught: every weight is invertible mod 11.
            let mut digits: Vec<u8> = id.bytes().collect();
            let pos = rng.below(17);
            digits[pos] = b'0' + (digits[pos] - b'0' + 1 + rng.below(9) as u8) % 10;
            let typo = String::from_utf8(digits).expect("ASCII");
            assert!(IdNumber::parse(&typo).is_err(), "{typo}");
        }
    }

    #[test]
    fn id_number_debug_is_masked() {
        let id = IdNumber::parse("11010519491231002X").expect("spec example");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), r#"IdNumber("110105********002X")"#);
    }

    #[test]
    fn errors_never_carry_the_id_number() {
        for input in ["110105194912310021", "11010519490231002X", "1101051949123100"] {
            let e = IdNumber::parse(input).expect_err("invalid");
            for text in [e.to_string(), e.zh(), format!("{e:?}")] {
                assert!(!text.contains("1101051949"), "{text}");
            }
        }
    }

    #[test]
    fn masking() {
        let cases = [
            ("11010519491231002X", "110105********002X"),
            ("110105194912310", "110105*****2310"),
            ("12345678901", "123456*8901"),
            ("1234567890", "**********"),
            ("", ""),
            ("身份证号码", "*****"),
            ("一二三四五六七八九十壹", "一二三四五六*八九十壹"),
            ("🦀🦀🦀🦀🦀🦀xx🦀🦀🦀🦀", "🦀🦀🦀🦀🦀🦀**🦀🦀🦀🦀"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_id_number(input), expected, "{input:?}");
        }
        let masked = mask_id_number(&"9".repeat(10_000));
        assert_eq!(masked.chars().count(), 10_000);
        assert_eq!(masked.chars().filter(|&c| c == '*').count(), 9_990);
    }

    #[test]
    fn check_any_guesses_the_kind() {
        use IdKind::{CreditCode, IdNumber, OrgCode};
        let cases = [
            ("914403001922038216", Some(CreditCode), Ok(())),
            ("121200004013590816", Some(CreditCode), Ok(())),
            ("11230500001755309F", Some(CreditCode), Ok(())),
            ("914403001922038217", Some(CreditCode), Err(check_char('6', '7'))),
            ("11010519491231002X", Some(IdNumber), Ok(())),
            (" 11010519491231002x ", Some(IdNumber), Ok(())),
            ("440524188001010015", Some(IdNumber), Err(check_char('4', '5'))),
            // Day 31 looks like a date; February makes it a bad ID, not a credit code.
            ("110105194902310020", Some(IdNumber), Err(IdError::BadBirthDate)),
            ("19220382-1", Some(OrgCode), Ok(())),
            ("71526726X", Some(OrgCode), Ok(())),
            ("", None, Err(IdError::UnknownShape)),
            ("12345", None, Err(IdError::UnknownShape)),
            ("1922038-21", None, Err(IdError::UnknownShape)),
            ("统一社会信用代码", None, Err(IdError::UnknownShape)),
        ];
        for (input, kind, result) in cases {
            assert_eq!(check_any(input), IdCheck { kind, result }, "{input:?}");
        }
        assert_eq!(OrgCode.as_str(), "org_code");
        assert_eq!(CreditCode.to_string(), "credit_code");
        assert_eq!(IdNumber.as_str(), "id_number");
    }

    #[test]
    fn odd_input_never_panics() {
        let long = "9".repeat(100_000);
        let accents = "é".repeat(18);
        let inputs = [
            "",
            " ",
            "\u{0}",
            "\u{feff}914403001922038216",
            "🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀",
            &accents,
            "ÉÉÉÉÉÉÉÉ-É",
            "一二三四五六七八九-十",
            "11010５19491231002X",
            &long,
        ];
        for input in inputs {
            let _ = CreditCode::parse(input);
            let _ = OrgCode::parse(input);
            let _ = IdNumber::parse(input);
            let _ = credit_code_check_char(input);
            let _ = org_code_check_char(input);
            let _ = id_number_check_char(input);
            let _ = mask_id_number(input);
            if let Err(e) = check_any(input).result {
                assert!(!e.to_string().is_empty() && !e.zh().is_empty());
            }
        }
    }

    #[test]
    fn messages() {
        let cases = [
            (check_char('6', '7'), "check character should be 6, found 7", "校验位错误：应为 6，实为 7"),
            (len(18, 17), "length should be 18 characters, found 17", "长度应为 18 位，实为 17 位"),
            (forbidden(12, 'I'), "forbidden character 'I' at position 12", "含非法字符 “I”（第 12 位）"),
            (
                forbidden(3, '\u{3000}'),
                "forbidden character '\\u{3000}' at position 3",
                "含非法字符 “U+3000”（第 3 位）",
            ),
            (forbidden(1, '\t'), "forbidden character '\\t' at position 1", "含非法字符 “U+0009”（第 1 位）"),
            (IdError::BadBirthDate, "birth date is not a real date", "出生日期无效"),
            (IdError::AllZero, "an all-zero code is not a real credit code", "代码不能全为 0"),
        ];
        for (error, en, zh) in cases {
            assert_eq!(error.to_string(), en);
            assert_eq!(error.zh(), zh);
        }
        for e in [IdError::Placeholder, IdError::UnknownShape] {
            let en = e.to_string();
            assert!(!en.ends_with('.') && en.chars().next().is_some_and(|c| !c.is_uppercase()));
            assert!(!e.zh().is_empty());
        }
    }
}
