//! Database failures, converted into the core [`Error`] in one place.

use g360_mail_core::{Error, ErrorKind};

/// What went wrong in the database, privately; callers see an [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("cannot open the outbox database")]
    Open(sqlx::Error),
    #[error("cannot open the outbox database file")]
    OpenFile(sqlx::Error),
    #[error("cannot create the outbox database file")]
    CreateFile(std::io::Error),
    #[error("cannot bring the outbox database schema up to date")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("the outbox database failed")]
    Query(sqlx::Error),
}

fn kind_of(err: &sqlx::Error) -> ErrorKind {
    match err {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => ErrorKind::Config,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
        sqlx::Error::Database(db) => {
            // SQLite: 5 busy, 6 locked; PostgreSQL: 40001 serialization
            // failure, 40P01 deadlock, 57P01 admin shutdown, 53300 too many
            // connections. All may succeed on a later try.
            match db.code().as_deref() {
                Some("5" | "6" | "40001" | "40P01" | "57P01" | "53300") => ErrorKind::Unavailable,
                _ => ErrorKind::Unexpected,
            }
        }
        _ => ErrorKind::Unexpected,
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        let (kind, remedy) = match &err {
            StoreError::Open(sqlx::Error::Tls(_)) => (
                ErrorKind::Config,
                "the url asks for TLS (sslmode=require or verify-full): turn ssl on in the \
                 PostgreSQL server, and for verify-full name the CA file that signed its \
                 certificate with sslrootcert=/path/ca.pem",
            ),
            StoreError::OpenFile(_) | StoreError::CreateFile(_) => (
                ErrorKind::Config,
                "check that the folder of the [outbox] url exists and that this user may \
                 write in it",
            ),
            StoreError::Open(e) => (
                match kind_of(e) {
                    ErrorKind::Unexpected => ErrorKind::Unavailable,
                    k => k,
                },
                "check the [outbox] url and that the database server is reachable",
            ),
            StoreError::Migrate(_) => (
                ErrorKind::Config,
                "the database holds an outbox schema this version does not know; \
                 use the g360-mail version that created it or a newer one",
            ),
            StoreError::Query(e) => (kind_of(e), "check the database server and its logs"),
        };
        let code = match &err {
            StoreError::Open(sqlx::Error::Tls(_)) => "outbox.tls",
            StoreError::OpenFile(_) | StoreError::CreateFile(_) => "outbox.open-file",
            StoreError::Open(_) => "outbox.open",
            StoreError::Migrate(_) => "outbox.migrate",
            StoreError::Query(_) => "outbox.database",
        };
        // The message is ours; the driver's text stays in `source()` only.
        let base = Error::new(kind, err.to_string())
            .with_provider(crate::PROVIDER)
            .with_code(code)
            .with_remedy(remedy);
        match err {
            StoreError::Open(e) | StoreError::OpenFile(e) | StoreError::Query(e) => {
                base.with_source(e)
            }
            StoreError::CreateFile(e) => base.with_source(e),
            StoreError::Migrate(e) => base.with_source(e),
        }
    }
}

/// Shorthand for a failed query.
pub(crate) fn db(err: sqlx::Error) -> Error {
    StoreError::Query(err).into()
}

/// Whether the database aborted the transaction for a lock conflict
/// (PostgreSQL: 40P01 deadlock, 40001 serialization failure): it was rolled
/// back whole and may run again at once.
pub(crate) fn is_conflict(err: &Error) -> bool {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<sqlx::Error>())
        .and_then(sqlx::Error::as_database_error)
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}
