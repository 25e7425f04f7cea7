//! The shared provider conformance suite, against the Graph emulator.

use g360_mail_testkit::conformance::{self, Conformance};

use crate::util::*;

#[tokio::test]
async fn o365_provider_passes_the_conformance_suite() {
    let env = env().await;
    let p = env.provider();
    conformance::run(&p, &Conformance::new(AP).secret(env.setup.secret.clone())).await;
}
