//! [`OutboxOptions`] and [`WorkerOptions`].

use std::time::Duration;

/// How the outbox paces, retries and leases mails. Shared by every
/// [`Worker`](crate::Worker) of one [`Outbox`](crate::Outbox).
///
/// The defaults follow Exchange Online's limits (30 messages per minute and 4
/// concurrent requests per mailbox) and suit production; tests shorten the
/// durations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxOptions {
    /// Most sends started per sending mailbox in any rolling
    /// [`rate_window`](Self::rate_window), over every worker of every
    /// process sharing the database. Default 30. Every node must use the same
    /// value.
    pub messages_per_minute: u32,
    /// Most requests (sends and lookups) in flight at once per sending
    /// mailbox, over every worker of every process sharing the database.
    /// Default 4.
    pub max_in_flight_per_mailbox: u32,
    /// Attempts before a mail that keeps failing temporarily is `failed`. Default 8.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles each attempt. Default 10 s.
    pub base_backoff: Duration,
    /// Longest delay between attempts, unless the provider asks for more with
    /// `Retry-After`. Default 30 min.
    pub max_backoff: Duration,
    /// How long a worker's claim on a mail lasts without renewal; workers renew
    /// it every third of that while they work, so it only runs out when a
    /// worker dies. Default 60 s.
    pub lease: Duration,
    /// After a lookup found nothing for a mail whose earlier outcome is
    /// unknown, how long to wait and look again before sending (the sent mail
    /// may take a while to show a message). Default 30 s.
    pub settle_delay: Duration,
    /// The rolling window that `messages_per_minute` counts over. Default 60 s;
    /// only tests change it.
    pub rate_window: Duration,
    /// Most database connections the outbox opens. Default 8.
    pub max_connections: u32,
    /// How long to wait for a database connection (also when opening) before
    /// reporting the database unavailable. Default 10 s.
    pub acquire_timeout: Duration,
    /// Most mails a worker claims, with their send slots, in one
    /// transaction, and most results it records in one. Default 32 (below
    /// the worker's concurrency, a claim overlaps the previous batch's
    /// results); 1
    /// claims and records mail by mail.
    pub batch_size: u32,
    /// How long a worker gathers results before it records them together
    /// (sooner when [`batch_size`](Self::batch_size) results wait). A result
    /// is reported ([`DeliveryEvent`](crate::DeliveryEvent)) only once
    /// recorded. Default 5 ms; zero records at once what has gathered.
    pub flush_interval: Duration,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            messages_per_minute: 30,
            max_in_flight_per_mailbox: 4,
            max_attempts: 8,
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30 * 60),
            lease: Duration::from_secs(60),
            settle_delay: Duration::from_secs(30),
            rate_window: Duration::from_secs(60),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            batch_size: 32,
            flush_interval: Duration::from_millis(5),
        }
    }
}

/// How one [`Worker`](crate::Worker) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Most mails the worker handles at once, over all mailboxes. Default 16.
    pub concurrency: usize,
    /// How often an idle worker looks for due mails (it also wakes when this
    /// process enqueues). Default 1 s.
    pub poll_interval: Duration,
    /// How the worker names itself in leases and attempts. Default: the
    /// process id and a random suffix.
    pub worker_id: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        WorkerOptions {
            concurrency: 16,
            poll_interval: Duration::from_secs(1),
            worker_id: format!("pid{}-{}", std::process::id(), &suffix[..8]),
        }
    }
}
