//! Fuzz target `address`: e-mail addresses and display names as the outside
//! world writes them (CSV cells, command lines, configuration, received mail).
//!
//! Properties: parsing never panics; an error never shows a raw control
//! character (a hostile input cannot forge a log line or drive a terminal);
//! what is accepted prints as text that parses back to the same address
//! (`Display` and serde). `G360_FUZZ_CASES` sets the number of cases
//! (`cargo xtask fuzz --target address`).

use g360_mail_core::{EmailAddress, Error, parse_address_list};
use g360_mail_testkit::fuzz::config;
use proptest::prelude::*;

/// Text made mostly of the characters that matter to an address parser.
fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 \"\\\\<>@.,;:()\\[\\]ñé😀\t\r\n\u{1b}\u{0}\u{7f}\u{85}\u{202e}-]{0,48}",
        any::<String>(),
    ]
}

fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-zA-Z0-9_+-]{1,10}){0,2}",
        1 => "\"[a-zA-Z0-9 ,<>@.;:()\\[\\]ñ]{1,20}\"",
        1 => "[a-zñéü]{1,12}",
    ]
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9]{1,12}(-[a-z0-9]{1,6})?(\\.[a-z]{2,6}){0,3}",
        1 => "\\[[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\]",
        1 => "[a-zñé]{1,10}\\.es",
    ]
}

fn display_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 ]{1,30}", "[a-zA-Z0-9 \"\\\\<>@.,;:()'ñé😀-]{1,40}", any::<String>(),]
}

fn assert_clean(err: &Error) {
    for text in [err.to_string(), err.remedy().unwrap_or_default().to_owned()] {
        assert!(!text.chars().any(char::is_control), "control character in {text:?}");
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn prop_parsing_any_text_never_panics_and_errors_are_clean(input in tricky()) {
        match EmailAddress::parse(&input) {
            Ok(a) => {
                prop_assert!(!a.addr().chars().any(char::is_control));
                prop_assert!(!a.name().unwrap_or_default().chars().any(char::is_control));
            }
            Err(e) => assert_clean(&e),
        }
        if let Err(e) = EmailAddress::new(&input) {
            assert_clean(&e);
        }
        if let Err(e) = parse_address_list(&input) {
            assert_clean(&e);
        }
    }

    #[test]
    fn prop_what_is_accepted_prints_back_to_the_same_address(
        local in local_part(),
        domain in domain(),
        name in proptest::option::of(display_name()),
    ) {
        let Ok(address) = EmailAddress::new(&format!("{local}@{domain}")) else {
            return Ok(());
        };
        let address = match name {
            Some(n) => match address.with_name(n) {
                Ok(a) => a,
                Err(e) => {
                    assert_clean(&e);
                    return Ok(());
                }
            },
            None => address,
        };
        let shown = address.to_string();
        let back = EmailAddress::parse(&shown)
            .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
        prop_assert_eq!(&back, &address, "printed as {:?}", shown);
        let list = parse_address_list(&format!("{shown}, x@example.com"))
            .unwrap_or_else(|e| panic!("{shown:?} in a list: {e}"));
        prop_assert_eq!(&list[0], &address);
        let json = serde_json::to_string(&address).unwrap();
        let back: EmailAddress = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, address);
    }
}
