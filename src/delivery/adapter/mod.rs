//! How a destination is reached, one adapter per kind behind the [`Adapter`] trait: `json` and
//! `xml` post a package and read the receipts in the answer, `file` writes the XML package
//! for a file-exchange platform and reads its receipt files later, `folder` writes the JSON
//! package into a department's folder, delivered once written.

mod file;
mod folder;
mod http;
mod json;
mod xml;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use super::package::{Header, PackageError, PackageRecord, Receipt};
use super::{AdapterKind, Destination};
use crate::clock::Clock;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One destination's transport: builds its package, pushes it, reads its receipts.
pub trait Adapter: Send + Sync {
    /// The package's bytes in this destination's format.
    fn package(&self, header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError>;

    /// Delivers a built package; what the platform answered, or why it did not.
    fn push<'a>(&'a self, package_id: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<Answer, PushFailure>>;

    /// Receipts the platform put back on its own since the last call (file exchange).
    fn returned_receipts(&self) -> Vec<ReceiptFile> {
        Vec::new()
    }
}

/// A push that got through.
#[derive(Debug)]
pub enum Answer {
    /// The platform's word on the records it processed; the others were not processed.
    Receipts(Vec<Receipt>),
    /// Written whole is delivered (a department folder answers nothing).
    AllAccepted,
    /// Receipts come back later ([`Adapter::returned_receipts`]); the records stay in flight.
    Later,
}

/// Why a push has no receipts; the records are retried.
#[derive(Debug)]
pub struct PushFailure {
    pub error: String,
    /// The platform's `Retry-After`, already capped.
    pub retry_after: Option<Duration>,
}

impl PushFailure {
    pub fn new(error: impl Into<String>) -> PushFailure {
        PushFailure { error: error.into(), retry_after: None }
    }
}

/// A receipt file a file-exchange platform put back.
#[derive(Debug)]
pub struct ReceiptFile {
    pub path: PathBuf,
    pub receipts: Result<Vec<Receipt>, PackageError>,
}

impl ReceiptFile {
    /// Moves the receipt to `processed/` once its outcomes are recorded.
    pub fn processed(&self) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else { return };
        let done = dir.join("processed");
        let _ = std::fs::create_dir_all(&done).and_then(|_| std::fs::rename(&self.path, done.join(name)));
    }
}

/// The adapter a destination's file names; `clock` reads `Retry-After` dates.
pub fn for_destination(destination: &Destination, clock: Clock) -> Box<dyn Adapter> {
    let outbound = || destination.outbound.clone().expect("file and folder adapters have an outbound folder");
    match destination.adapter {
        AdapterKind::HttpJson => Box::new(json::HttpJson::new(http::Post::new(destination, clock))),
        AdapterKind::HttpXml => Box::new(xml::HttpXml::new(http::Post::new(destination, clock))),
        AdapterKind::File => Box::new(file::FileExchange::new(outbound(), destination.receipts.clone())),
        AdapterKind::Folder => Box::new(folder::Folder::new(outbound())),
    }
}
