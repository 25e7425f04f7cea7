//! At most four requests in flight per mailbox, across providers of one factory.

use std::sync::Arc;

use g360_mail_core::MailProvider;
use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch};

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sends_never_exceed_four_per_mailbox() {
    let env = env().await;
    // Graph's own limit: more than 4 in flight would be answered 429.
    env.emu.configure(|o| o.concurrency_limit = Some(4));
    // Slow answers make the sends overlap.
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::Delay(std::time::Duration::from_millis(20)),
    );
    let a: Arc<dyn MailProvider> = env.shared();
    let b: Arc<dyn MailProvider> = env.shared();
    let ap: Arc<dyn MailProvider> =
        Arc::new(env.provider_with(settings(&env), AP, &env.setup.secret));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let p = match i % 3 {
            0 => a.clone(),
            1 => b.clone(),
            _ => ap.clone(),
        };
        tasks.spawn(async move { p.send(&simple(&format!("m{i}"))).await });
    }
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap().unwrap();
        assert!(!r.recovered);
    }
    assert_eq!(env.emu.deliveries().len(), 50);
    assert!(env.emu.max_concurrency(ERP) <= 4, "{}", env.emu.max_concurrency(ERP));
    assert_eq!(env.emu.max_concurrency(ERP), 4, "the limiter lets four run at once");
    assert!(env.emu.max_concurrency(AP) <= 4);
    let throttled =
        env.emu.requests_to(Endpoint::SendMail).iter().filter(|r| r.status == Some(429)).count();
    assert_eq!(throttled, 0);
}
