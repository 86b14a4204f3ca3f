//! `http_json`: the JSON package posted; per-record receipts in the JSON answer.

use super::http::Post;
use super::{Adapter, Answer, BoxFuture, PushFailure};
use crate::delivery::package::{self, Header, PackageError, PackageRecord};

pub(super) struct HttpJson {
    post: Post,
}

impl HttpJson {
    pub(super) fn new(post: Post) -> HttpJson {
        HttpJson { post }
    }
}

impl Adapter for HttpJson {
    fn package(&self, header: &Header<'_>, records: &[PackageRecord<'_>]) -> Result<Vec<u8>, PackageError> {
        package::json_package(header, records)
    }

    fn push<'a>(&'a self, _package_id: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<Answer, PushFailure>> {
        Box::pin(async move {
            let (_, receipts) = self.post.send("application/json", body, package::json_receipts).await?;
            Ok(Answer::Receipts(receipts))
        })
    }
}
