//! `folder`: a lower destination's folder (a department, 下级平台). The JSON package is written
//! whole into `outbound`; a department sends no receipts, so written is delivered.

use std::path::PathBuf;

use super::file::write_package;
use super::{Adapter, Answer, BoxFuture, PushFailure};
use crate::delivery::package::{self, Header, PackageError, PackageRecord};

pub(super) struct Folder {
    outbound: PathBuf,
}

impl Folder {
    pub(super) fn new(outbound: PathBuf) -> Folder {
        Folder { outbound }
    }
}

impl Adapter for Folder {
    fn package(&self, header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError> {
        package::json_package(header, records)
    }

    fn push<'a>(&'a self, package_id: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<Answer, PushFailure>> {
        Box::pin(async move {
            write_package(&self.outbound, &format!("{package_id}.json"), &body)?;
            Ok(Answer::AllAccepted)
        })
    }
}
