//! Timing, client CPU accounting and the worker pool every scenario drives
//! its sends through.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Name prefix of the client runtime's threads: their CPU time is what the
/// bench charges to the side (ours or baseline) being measured.
pub(crate) const CLIENT_THREAD: &str = "bench-client";
/// Name prefix of the threads of the in-process servers (Graph emulator).
pub(crate) const SERVER_THREAD: &str = "bench-server";

/// CPU time spent so far by the live threads whose name starts with
/// `prefix`, in nanoseconds (`/proc/self/task/*/schedstat`, Linux only;
/// 0 elsewhere).
pub(crate) fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    let mut total = 0;
    for task in tasks.flatten() {
        let dir = task.path();
        let named = std::fs::read_to_string(dir.join("comm"))
            .is_ok_and(|comm| comm.trim_end().starts_with(prefix));
        if !named {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(dir.join("schedstat"))
            && let Some(ns) = stat.split_whitespace().next().and_then(|f| f.parse::<u64>().ok())
        {
            total += ns;
        }
    }
    total
}

/// One measured run: how long it took, the latency of every successful
/// item, the errors, and the CPU time of the client threads.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pass {
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) errors: Vec<String>,
    pub(crate) client_cpu_ns: u64,
    pub(crate) server_cpu_ns: u64,
}

impl Pass {
    /// Adds `other` (another half of an alternated run) to this one.
    pub(crate) fn absorb(&mut self, other: Pass) {
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.errors.extend(other.errors);
        self.client_cpu_ns += other.client_cpu_ns;
        self.server_cpu_ns += other.server_cpu_ns;
    }

    /// The figures of this pass, `items` counted as done.
    pub(crate) fn stats(mut self, items: usize) -> PassStats {
        self.latencies.sort_unstable();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let done = items.saturating_sub(self.errors.len());
        let per_item = |ns: u64| if done == 0 { 0.0 } else { ns as f64 / 1000.0 / done as f64 };
        PassStats {
            items: done,
            seconds: round(secs, 4),
            per_second: round(done as f64 / secs, 1),
            p50_ms: percentile_ms(&self.latencies, 0.50),
            p99_ms: percentile_ms(&self.latencies, 0.99),
            client_cpu_us_per_item: round(per_item(self.client_cpu_ns), 1),
            server_cpu_us_per_item: round(per_item(self.server_cpu_ns), 1),
            errors: self.errors.len(),
            first_error: self.errors.first().cloned(),
        }
    }
}

/// The figures of one side of a comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PassStats {
    /// Items (mails, messages) done successfully.
    pub(crate) items: usize,
    /// Wall-clock seconds of the measured runs, summed.
    pub(crate) seconds: f64,
    /// Items per second.
    pub(crate) per_second: f64,
    /// Median latency of one item, in milliseconds (`null` without latencies).
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile latency of one item, in milliseconds.
    pub(crate) p99_ms: Option<f64>,
    /// CPU of the client threads per item, in microseconds.
    pub(crate) client_cpu_us_per_item: f64,
    /// CPU of the in-process server threads per item, in microseconds.
    pub(crate) server_cpu_us_per_item: f64,
    /// Failed items.
    pub(crate) errors: usize,
    /// The first failure, for diagnosis.
    pub(crate) first_error: Option<String>,
}

pub(crate) fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    Some(round(sorted[rank - 1].as_secs_f64() * 1000.0, 3))
}

/// Rounds to `digits` decimals, for readable JSON.
pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// `ours / baseline` of two rates, rounded.
pub(crate) fn ratio(ours: f64, baseline: f64) -> f64 {
    if baseline <= 0.0 { 0.0 } else { round(ours / baseline, 3) }
}

/// Runs every job of every queue, `workers` at a time per queue, through
/// `f(queue index, job)`, and measures the whole.
pub(crate) async fn drive<J, F, Fut>(queues: Vec<Vec<J>>, workers: usize, f: F) -> Pass
where
    J: Send + 'static,
    F: Fn(usize, J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let f = Arc::new(f);
    let client0 = threads_cpu_ns(CLIENT_THREAD);
    let server0 = threads_cpu_ns(SERVER_THREAD);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (q, jobs) in queues.into_iter().enumerate() {
        let jobs = Arc::new(Mutex::new(jobs.into_iter()));
        for _ in 0..workers.max(1) {
            let jobs = jobs.clone();
            let f = f.clone();
            set.spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                loop {
                    let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(job) = next else { break };
                    let t = Instant::now();
                    match f(q, job).await {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(e) => errors.push(e),
                    }
                }
                (latencies, errors)
            });
        }
    }
    let mut pass = Pass::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((latencies, errors)) => {
                pass.latencies.extend(latencies);
                pass.errors.extend(errors);
            }
            Err(e) => pass.errors.push(format!("a worker task failed: {e}")),
        }
    }
    pass.elapsed = started.elapsed();
    pass.client_cpu_ns = threads_cpu_ns(CLIENT_THREAD).saturating_sub(client0);
    pass.server_cpu_ns = threads_cpu_ns(SERVER_THREAD).saturating_sub(server0);
    pass
}

/// Measures one sequential piece of work that reports how many items it did.
pub(crate) async fn measure<Fut>(work: Fut) -> (Pass, usize)
where
    Fut: Future<Output = Result<usize, String>>,
{
    let client0 = threads_cpu_ns(CLIENT_THREAD);
    let server0 = threads_cpu_ns(SERVER_THREAD);
    let started = Instant::now();
    let result = work.await;
    let mut pass = Pass { elapsed: started.elapsed(), ..Pass::default() };
    pass.client_cpu_ns = threads_cpu_ns(CLIENT_THREAD).saturating_sub(client0);
    pass.server_cpu_ns = threads_cpu_ns(SERVER_THREAD).saturating_sub(server0);
    match result {
        Ok(n) => (pass, n),
        Err(e) => {
            pass.errors.push(e);
            (pass, 0)
        }
    }
}

/// Splits `n` items over `queues` queues, round robin, numbering them from 0.
pub(crate) fn split<J>(
    n: usize,
    queues: usize,
    mut make: impl FnMut(usize, usize) -> J,
) -> Vec<Vec<J>> {
    let queues = queues.max(1);
    let mut out: Vec<Vec<J>> = (0..queues).map(|_| Vec::with_capacity(n / queues + 1)).collect();
    for i in 0..n {
        out[i % queues].push(make(i % queues, i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_stats() {
        let mut pass = Pass {
            elapsed: Duration::from_secs(2),
            latencies: (1..=100).map(Duration::from_millis).collect(),
            ..Pass::default()
        };
        pass.errors.push("boom".into());
        let s = pass.stats(101);
        assert_eq!(s.items, 100);
        assert_eq!(s.per_second, 50.0);
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p99_ms, Some(99.0));
        assert_eq!(s.errors, 1);
        assert_eq!(ratio(85.0, 100.0), 0.85);
        let q = split(5, 2, |q, i| (q, i));
        assert_eq!(q, vec![vec![(0, 0), (0, 2), (0, 4)], vec![(1, 1), (1, 3)]]);
    }
}
