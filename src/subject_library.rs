//! The provincial platform's subject base library (主体库) as it is pushed down: CSV with a
//! name column (`name` or 名称) and a credit-code column (`credit_code` or
//! 统一社会信用代码), the shape the sandbox serves at `/sandbox/subjects`.

use std::io::Read;

use crate::ids::CreditCode;
use crate::transform::normalize_name;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error("missing column {0}")]
    MissingColumn(&'static str),
}

impl LibraryError {
    pub fn zh(&self) -> String {
        match self {
            LibraryError::Csv(e) => format!("主体库文件无法读取：{e}"),
            LibraryError::MissingColumn(c) => format!("主体库文件缺少列：{c}"),
        }
    }
}

/// What a library file held: (credit code, name) pairs, and lines left out (no valid code or
/// no name).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Library {
    pub subjects: Vec<(String, String)>,
    pub skipped: u64,
}

pub fn read(input: impl Read) -> Result<Library, LibraryError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader.headers()?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim_start_matches('\u{feff}').trim()));
    let name_at = find(&["name", "名称", "主体名称"]).ok_or(LibraryError::MissingColumn("名称"))?;
    let code_at = find(&["credit_code", "统一社会信用代码"]).ok_or(LibraryError::MissingColumn("统一社会信用代码"))?;
    let mut library = Library::default();
    for row in reader.records() {
        let row = row?;
        let code = row.get(code_at).unwrap_or("").trim().to_ascii_uppercase();
        let name = normalize_name(row.get(name_at).unwrap_or("")).into_owned();
        if name.is_empty() || CreditCode::parse(&code).is_err() {
            library.skipped += 1;
            continue;
        }
        library.subjects.push((code, name));
    }
    Ok(library)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_keeps_names_as_registered_and_skips_bad_lines() {
        let text =
            "name,credit_code\n淮北市某某（集团）有限公司,91340600ma2pbm9hxd\n无代码公司,\n坏代码,914403001922038217\n";
        let lib = read(text.as_bytes()).unwrap();
        assert_eq!(lib.subjects, [("91340600MA2PBM9HXD".to_string(), "淮北市某某（集团）有限公司".to_string())]);
        assert_eq!(lib.skipped, 2);
        let zh = "\u{feff}统一社会信用代码,名称\n92340602MA2PBMEM24,某某商行\n";
        assert_eq!(read(zh.as_bytes()).unwrap().subjects.len(), 1);
        assert!(matches!(read("a,b\n".as_bytes()), Err(LibraryError::MissingColumn(_))));
    }
}
