//! The mailbox directory on disk: file names, ids, atomic writes and read markers.
//!
//! ```text
//! <dir>/20261129T101530123Z-<uid>.eml   one mail; its id is the file stem
//! <dir>/.tmp/<name>                      a mail being written, renamed into <dir> when complete
//! <dir>/.seen/<id>                       empty marker: the mail has been read
//! ```
//!
//! Everything here is blocking I/O; the provider runs it on tokio's blocking pool.
//!
//! What is written is private: directories are created with mode 0700 and
//! files with 0600 (never widened afterwards, so a stricter umask still
//! applies), and no symbolic link is ever followed when writing a mail,
//! marking it read or reading it back: a link planted in the mailbox (as
//! `.tmp`, `.seen`, a marker or a mail) makes the operation fail instead of
//! writing, truncating or showing another file.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use g360_mail_core::{Error, MessageUid, Result, Timestamp};

use crate::error::{io_error, message_not_found, not_a_directory};

/// Directory of mails being written.
pub(crate) const TMP_DIR: &str = ".tmp";
/// Directory of read markers.
pub(crate) const SEEN_DIR: &str = ".seen";
/// Extension of a stored mail.
pub(crate) const EXTENSION: &str = "eml";
/// Longest id accepted; longer stems are not ours and are not listed.
const MAX_ID_LEN: usize = 200;
/// Length of the UTC time at the start of a file name: `YYYYMMDDTHHMMSSmmmZ`.
const STAMP_LEN: usize = 19;

/// The file stem for a mail stored at `at`: the UTC time to the millisecond,
/// then the uid, so names sort oldest to newest.
pub(crate) fn message_id(at: Timestamp, uid: MessageUid) -> String {
    format!("{}-{uid}", at.strftime("%Y%m%dT%H%M%S%3fZ"))
}

/// When a mail was stored, read back from its id; `None` for a file whose name
/// was not made by [`message_id`].
pub(crate) fn stored_at(id: &str) -> Option<Timestamp> {
    let s = id.get(..STAMP_LEN)?;
    if !s.is_char_boundary(STAMP_LEN) || !s.ends_with('Z') || s.as_bytes()[8] != b'T' {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}.{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15],
        &s[15..18]
    );
    iso.parse().ok()
}

/// Whether `id` may name a file of the mailbox: letters, digits and `-_.@+`,
/// not starting with a dot and without `..`, so it can never leave the directory.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && !id.contains("..")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b))
}

/// Checks an id handed in by a caller.
pub(crate) fn check_id(id: &str) -> Result<()> {
    if is_valid_id(id) {
        return Ok(());
    }
    Err(Error::invalid_input("invalid message id")
        .with_provider(crate::FILE_PROVIDER_TYPE)
        .with_code("message.id-invalid")
        .with_context("id", id.escape_debug())
        .with_remedy(
            "use an id as listed, e.g. 20261129T101530123Z-<uid>, without path separators",
        ))
}

/// A mailbox directory.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

impl Store {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Store { dir }
    }

    /// The path of the mail with this (valid) id.
    pub(crate) fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{EXTENSION}"))
    }

    /// Creates the directory (and its parents) unless it exists; `true` when
    /// it had to be created.
    pub(crate) fn ensure_dir(&self) -> Result<bool> {
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(false),
            Ok(_) => Err(not_a_directory(&self.dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                private_dir()
                    .recursive(true)
                    .create(&self.dir)
                    .map_err(|e| io_error(e, "cannot create the mailbox directory", &self.dir))?;
                Ok(true)
            }
            Err(e) => Err(io_error(e, "cannot read the mailbox directory", &self.dir)),
        }
    }

    /// `.tmp` or `.seen`, created 0700 when missing; refused when it is a
    /// symbolic link or anything but a directory.
    fn subdir(&self, name: &str) -> Result<PathBuf> {
        self.ensure_dir()?;
        let sub = self.dir.join(name);
        match private_dir().create(&sub) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(e, "cannot create a directory", &sub)),
        }
        match fs::symlink_metadata(&sub) {
            Ok(m) if m.is_dir() => Ok(sub),
            Ok(_) => Err(link_refused(&sub)),
            Err(e) => Err(io_error(e, "cannot create a directory", &sub)),
        }
    }

    /// First half of an atomic write: the complete, synced file in `.tmp`.
    /// Nothing is visible in the mailbox yet.
    pub(crate) fn stage(&self, id: &str, bytes: &[u8]) -> Result<PathBuf> {
        let tmp = self.subdir(TMP_DIR)?.join(format!("{id}.{EXTENSION}"));
        let mut file = match private_file().create_new(true).open(&tmp) {
            Ok(f) => f,
            // Not ours: never removed (it may be a link an attacker placed).
            Err(e) => return Err(io_error(e, "cannot write the mail", &tmp)),
        };
        if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(e, "cannot write the mail", &tmp));
        }
        Ok(tmp)
    }

    /// Second half: renames the staged file into the mailbox, where it
    /// appears complete or not at all.
    pub(crate) fn publish(&self, staged: &Path, id: &str) -> Result<PathBuf> {
        let target = self.path(id);
        if let Err(e) = fs::rename(staged, &target) {
            let _ = fs::remove_file(staged);
            return Err(io_error(e, "cannot move the mail into the mailbox", &target));
        }
        // Syncing the directory makes the rename itself durable. The mail is
        // already visible, so a failure here must not report the send as
        // failed: a retry would store it twice.
        #[cfg(unix)]
        let _ = File::open(&self.dir).and_then(|d| d.sync_all());
        Ok(target)
    }

    /// Stores a mail atomically under `id` and returns its path.
    pub(crate) fn write(&self, id: &str, bytes: &[u8]) -> Result<PathBuf> {
        let staged = self.stage(id, bytes)?;
        self.publish(&staged, id)
    }

    /// The ids of the stored mails, newest first. A missing directory is an
    /// empty mailbox; files that are not `<id>.eml` (and `.tmp`, `.seen`) are
    /// ignored.
    pub(crate) fn ids_newest_first(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(not_a_directory(&self.dir));
            }
            Err(e) => return Err(io_error(e, "cannot list the mailbox directory", &self.dir)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| io_error(e, "cannot list the mailbox directory", &self.dir))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".eml")) else { continue };
            if is_valid_id(id) && entry.file_type().is_ok_and(|t| t.is_file()) {
                ids.push(id.to_owned());
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// The bytes of a stored mail.
    pub(crate) fn read(&self, id: &str) -> Result<Vec<u8>> {
        check_id(id)?;
        let path = self.path(id);
        let read = || -> io::Result<Vec<u8>> {
            use std::io::Read;
            let mut file = OpenOptions::new().read(true).custom_flags(NO_FOLLOW).open(&path)?;
            if !file.metadata()?.is_file() {
                return Err(io::ErrorKind::NotFound.into());
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        read().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => message_not_found(id),
            _ if is_link_error(&e) => link_refused(&path),
            _ => io_error(e, "cannot read the mail", &path),
        })
    }

    /// The first `limit` bytes of a stored mail (enough for its headers).
    pub(crate) fn read_head(&self, id: &str, limit: u64) -> Result<Vec<u8>> {
        use std::io::Read;
        check_id(id)?;
        let path = self.path(id);
        let mut bytes = Vec::new();
        OpenOptions::new()
            .read(true)
            .custom_flags(NO_FOLLOW)
            .open(&path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => message_not_found(id),
                _ if is_link_error(&e) => link_refused(&path),
                _ => io_error(e, "cannot read the mail", &path),
            })?;
        Ok(bytes)
    }

    /// When the mail was stored: from its name, else the file's modification time.
    pub(crate) fn received_at(&self, id: &str) -> Option<Timestamp> {
        stored_at(id).or_else(|| {
            let modified: SystemTime = fs::symlink_metadata(self.path(id)).ok()?.modified().ok()?;
            Timestamp::try_from(modified).ok()
        })
    }

    /// When the file came into the directory, for the report listing: from
    /// its name, else the later of its modification and status-change times
    /// (a copy that keeps an old modification time, `cp -p` or an unpacked
    /// archive, still gets the time it was placed).
    pub(crate) fn placed_at(&self, id: &str) -> Option<Timestamp> {
        stored_at(id).or_else(|| {
            let meta = fs::symlink_metadata(self.path(id)).ok()?;
            let modified = Timestamp::try_from(meta.modified().ok()?).ok()?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let changed =
                    Timestamp::new(meta.ctime(), meta.ctime_nsec().try_into().ok()?).ok()?;
                Some(modified.max(changed))
            }
            #[cfg(not(unix))]
            Some(modified)
        })
    }

    /// Whether the mail has been marked read.
    pub(crate) fn is_seen(&self, id: &str) -> bool {
        fs::symlink_metadata(self.dir.join(SEEN_DIR).join(id)).is_ok_and(|m| m.is_file())
    }

    /// Marks a stored mail read.
    pub(crate) fn mark_seen(&self, id: &str) -> Result<()> {
        check_id(id)?;
        if !fs::symlink_metadata(self.path(id)).is_ok_and(|m| m.is_file()) {
            return Err(message_not_found(id));
        }
        let marker = self.subdir(SEEN_DIR)?.join(id);
        // Created if missing, never truncated, never through a link.
        private_file().create(true).open(&marker).map_err(|e| {
            if is_link_error(&e) {
                link_refused(&marker)
            } else {
                io_error(e, "cannot mark the mail read", &marker)
            }
        })?;
        Ok(())
    }

    /// Creates and removes a probe file in `.tmp`: proves the mailbox is writable.
    pub(crate) fn probe(&self) -> Result<()> {
        let probe = self.subdir(TMP_DIR)?.join(format!(".probe-{}", MessageUid::new_random()));
        private_file()
            .create_new(true)
            .open(&probe)
            .and_then(|mut f| f.write_all(b"g360-mail probe"))
            .map_err(|e| io_error(e, "cannot create a file in the mailbox directory", &probe))?;
        fs::remove_file(&probe)
            .map_err(|e| io_error(e, "cannot remove a file in the mailbox directory", &probe))
    }
}

/// A directory builder for mode 0700 (less what the umask removes).
fn private_dir() -> DirBuilder {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Options to write a file of mode 0600 (less what the umask removes),
/// never through a symbolic link.
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.custom_flags(NO_FOLLOW);
    options
}

/// `O_NOFOLLOW`: opening a symbolic link fails (`ELOOP`).
#[cfg(unix)]
const NO_FOLLOW: i32 = libc::O_NOFOLLOW;
#[cfg(not(unix))]
const NO_FOLLOW: i32 = 0;

/// `custom_flags` on every platform (a no-op where there is none).
trait CustomFlags {
    fn custom_flags(&mut self, flags: i32) -> &mut Self;
}

impl CustomFlags for OpenOptions {
    fn custom_flags(&mut self, flags: i32) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, flags);
        #[cfg(not(unix))]
        let _ = flags;
        self
    }
}

/// Whether opening failed because the path is a symbolic link.
fn is_link_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// A symbolic link where the mailbox keeps its own files.
fn link_refused(path: &Path) -> Error {
    Error::new(g360_mail_core::ErrorKind::Config, "a symbolic link is in the mailbox directory")
        .with_provider(crate::FILE_PROVIDER_TYPE)
        .with_code("file.symlink-refused")
        .with_context("path", path.display())
        .with_remedy(
            "remove the link: the mailbox writes and reads its own files only, never through links",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_carry_it() {
        let uid = MessageUid::new_random();
        let early: Timestamp = "2026-11-29T09:05:07.004Z".parse().unwrap();
        let late: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let a = message_id(early, uid);
        assert_eq!(a, format!("20261129T090507004Z-{uid}"));
        assert!(a < message_id(late, uid));
        assert_eq!(stored_at(&a), Some(early));
        assert_eq!(stored_at("foreign-mail"), None);
        assert_eq!(stored_at("ñññññññññññññññññññññ"), None);
        assert!(is_valid_id(&a));
    }

    #[test]
    fn refuses_ids_that_could_leave_the_directory() {
        for id in ["", "..", "../x", "a/b", "a\\b", ".seen", ".tmp", "a..b", "a b", "a\0b", "ñ"] {
            assert!(!is_valid_id(id), "{id:?}");
            let err = check_id(id).unwrap_err();
            assert_eq!(err.kind(), g360_mail_core::ErrorKind::InvalidInput);
            assert!(err.remedy().is_some());
        }
        assert!(!is_valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
