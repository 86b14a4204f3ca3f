//! `http_xml`: the GB/T 39443-style XML data package posted; per-record receipts in the XML
//! answer, or an `<Error>` for the whole package.

use super::http::Post;
use super::{Adapter, Answer, BoxFuture, PushFailure};
use crate::delivery::package::{self, Header, PackageError, PackageRecord};

pub(super) struct HttpXml {
    post: Post,
}

impl HttpXml {
    pub(super) fn new(post: Post) -> HttpXml {
        HttpXml { post }
    }
}

impl Adapter for HttpXml {
    fn package(&self, header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError> {
        Ok(package::xml_package(header, records))
    }

    fn push<'a>(&'a self, _package_id: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<Answer, PushFailure>> {
        Box::pin(async move {
            let (_, receipts) = self.post.send("application/xml; charset=utf-8", body, package::xml_receipts).await?;
            Ok(Answer::Receipts(receipts))
        })
    }
}
