//! What the file provider writes is private, and no symbolic link planted in
//! the mailbox is ever followed: on a real directory.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use g360_mail_core::{EmailAddress, MailProvider, OutgoingMessage};
use g360_mail_file::FileProvider;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// This process's umask, from `/proc/self/status`.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).expect("a Umask line");
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

fn message(subject: &str) -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("cliente@example.com")
        .unwrap()
        .subject(subject)
        .text("datos privados")
        .build()
        .unwrap()
}

fn provider(dir: &Path) -> FileProvider {
    FileProvider::new(dir, EmailAddress::new("demo@localhost").unwrap())
}

fn emls(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect()
}

#[tokio::test]
async fn mail_files_are_0600_and_directories_0700() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("a/b/mailbox");
    let p = provider(&dir);
    p.send(&message("uno")).await.unwrap();
    let mask = umask();
    for d in [top.path().join("a"), top.path().join("a/b"), dir.clone(), dir.join(".tmp")] {
        assert_eq!(mode(&d), 0o700 & !mask, "{}", d.display());
    }
    let eml = emls(&dir).remove(0);
    assert_eq!(mode(&eml), 0o600 & !mask);
    let id = eml.file_stem().unwrap().to_str().unwrap().to_owned();
    p.mark_read(&id).await.unwrap();
    assert_eq!(mode(&dir.join(".seen")), 0o700 & !mask);
    assert_eq!(mode(&dir.join(".seen").join(&id)), 0o600 & !mask);
}

/// `.tmp` planted as a link to another directory: the send fails and
/// nothing is written there.
#[tokio::test]
async fn a_linked_tmp_directory_is_refused() {
    let top = tempfile::tempdir().unwrap();
    let (dir, elsewhere) = (top.path().join("mailbox"), top.path().join("elsewhere"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, dir.join(".tmp")).unwrap();
    let err = provider(&dir).send(&message("uno")).await.unwrap_err();
    assert_eq!(err.code(), Some("file.symlink-refused"), "{err:?}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(emls(&dir).is_empty());
}

/// Marking a mail read never writes, creates or truncates through a link.
#[tokio::test]
async fn marking_read_never_writes_through_a_link() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("mailbox");
    let p = provider(&dir);
    p.send(&message("uno")).await.unwrap();
    let id = emls(&dir)[0].file_stem().unwrap().to_str().unwrap().to_owned();
    let victim = top.path().join("victim.txt");
    std::fs::write(&victim, "must stay").unwrap();

    // The marker is a link to a victim file: refused, the victim untouched.
    std::fs::create_dir(dir.join(".seen")).unwrap();
    symlink(&victim, dir.join(".seen").join(&id)).unwrap();
    let err = p.mark_read(&id).await.unwrap_err();
    assert_eq!(err.code(), Some("file.symlink-refused"), "{err:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "must stay");

    // `.seen` itself a link to another directory: refused, nothing created there.
    std::fs::remove_file(dir.join(".seen").join(&id)).unwrap();
    std::fs::remove_dir(dir.join(".seen")).unwrap();
    let elsewhere = top.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, dir.join(".seen")).unwrap();
    let err = p.mark_read(&id).await.unwrap_err();
    assert_eq!(err.code(), Some("file.symlink-refused"), "{err:?}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// A mail that is a link to a file outside the mailbox is neither listed nor
/// shown, nor marked read.
#[tokio::test]
async fn a_linked_mail_is_never_read() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("mailbox");
    std::fs::create_dir_all(&dir).unwrap();
    let secret = top.path().join("secret.eml");
    std::fs::write(&secret, "Subject: TOP-SECRET\r\n\r\nprivate\r\n").unwrap();
    let id = "20261201T100000000Z-linked";
    symlink(&secret, dir.join(format!("{id}.eml"))).unwrap();
    let p = provider(&dir);
    let page = p.list_messages(&g360_mail_core::MailboxQuery::default()).await.unwrap();
    assert!(page.messages.is_empty(), "{page:?}");
    let err = p.get_message(id).await.unwrap_err();
    assert!(!format!("{err:?}").contains("TOP-SECRET"), "{err:?}");
    assert!(p.mark_read(id).await.is_err());
}
