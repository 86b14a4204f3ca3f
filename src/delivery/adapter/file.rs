//! `file`: file exchange. The XML package is written whole into the outbound folder; the
//! platform puts `<package>.receipt.xml` files into the receipts folder later, so the records
//! stay in flight until then (or until their lease runs out and the package is written again).

use std::path::{Path, PathBuf};

use super::{Adapter, Answer, BoxFuture, PushFailure, ReceiptFile};
use crate::delivery::package::{self, Header, PackageError, PackageRecord};

pub(super) struct FileExchange {
    outbound: PathBuf,
    receipts: Option<PathBuf>,
}

impl FileExchange {
    pub(super) fn new(outbound: PathBuf, receipts: Option<PathBuf>) -> FileExchange {
        FileExchange { outbound, receipts }
    }
}

impl Adapter for FileExchange {
    fn package(&self, header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError> {
        Ok(package::xml_package(header, records))
    }

    fn push<'a>(&'a self, package_id: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<Answer, PushFailure>> {
        Box::pin(async move {
            write_package(&self.outbound, &format!("{package_id}.xml"), &body)?;
            Ok(Answer::Later)
        })
    }

    fn returned_receipts(&self) -> Vec<ReceiptFile> {
        let Some(dir) = &self.receipts else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_file() || !name.ends_with(".receipt.xml") || name.starts_with('.') {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let receipts = package::xml_receipts(&bytes).map(|(_, receipts)| receipts);
            files.push(ReceiptFile { path, receipts });
        }
        files
    }
}

/// Writes a package whole into `dir`: temp file, sync, then rename.
pub(super) fn write_package(dir: &Path, name: &str, body: &[u8]) -> Result<(), PushFailure> {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".").suffix(".tmp").tempfile_in(dir)?;
        std::io::Write::write_all(&mut tmp, body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(name)).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| PushFailure::new(format!("writing the package: {e}")))
}
