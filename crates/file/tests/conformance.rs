//! The shared provider conformance suite, on a real directory.

use g360_mail_core::{EmailAddress, Folder};
use g360_mail_file::FileProvider;
use g360_mail_testkit::conformance::{self, Conformance};

#[tokio::test]
async fn file_provider_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let provider = FileProvider::new(dir.path(), EmailAddress::new("demo@localhost").unwrap());
    conformance::run(
        &provider,
        &Conformance::new("someone@example.com").readback_folder(Folder::Inbox),
    )
    .await;
    conformance::run(&provider, &Conformance::new("someone@example.com")).await;
}
