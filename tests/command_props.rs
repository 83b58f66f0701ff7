//! Property tests of `Command::parse`: it never panics, whatever the argument list, and
//! whatever it accepts is named in the command table.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bytes::Bytes;
use cairn::protocol::command::{lookup, Command, CommandError, COMMANDS};
use proptest::prelude::*;

/// Words that steer parsers into their option branches.
const WORDS: &[&str] = &[
    "NX",
    "XX",
    "GT",
    "LT",
    "GET",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "PERSIST",
    "IFEQ",
    "IFNE",
    "IFDEQ",
    "IFDNE",
    "MATCH",
    "COUNT",
    "TYPE",
    "LIMIT",
    "REV",
    "AUTH",
    "SETNAME",
    "ID",
    "ADDR",
    "LADDR",
    "USER",
    "SKIPME",
    "MAXAGE",
    "LIB-NAME",
    "LIB-VER",
    "ON",
    "OFF",
    "YES",
    "NO",
    "FILTERBY",
    "PATTERN",
    "ACLCAT",
    "MODULE",
    "SAVE",
    "NOSAVE",
    "NOW",
    "FORCE",
    "ABORT",
    "ASYNC",
    "SYNC",
    "normal",
    "pubsub",
    "-",
    "+",
    "*",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "00",
    "+1",
    "1.5",
    "inf",
    "nan",
    "ffffffffffffffff",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "536870911",
    "536870912",
    "",
];

/// Every command and subcommand name, in random letter case.
fn name() -> impl Strategy<Value = Vec<u8>> {
    let mut names: Vec<&'static str> = COMMANDS.iter().map(|s| s.name).collect();
    names.extend(COMMANDS.iter().flat_map(|s| {
        s.subcommands
            .iter()
            .map(cairn::protocol::command::CommandSpec::short_name)
    }));
    names.push("nosuchcommand");
    (prop::sample::select(names), any::<u64>()).prop_map(|(n, mask)| {
        n.bytes()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

/// An argument: a steering word, a subcommand name, or arbitrary bytes.
fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
        2 => name(),
        2 => prop::collection::vec(any::<u8>(), 0..12),
        1 => prop::collection::vec(any::<u8>(), 100..300),
    ]
}

fn to_bytes(v: Vec<Vec<u8>>) -> Vec<Bytes> {
    v.into_iter().map(Bytes::from).collect()
}

proptest! {
    // 4096 cases by default; PROPTEST_CASES raises it for a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4096),
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_never_panics(name in name(), args in prop::collection::vec(arg(), 0..9)) {
        let mut all = vec![name];
        all.extend(args);
        match Command::parse(to_bytes(all)) {
            Ok(cmd) => {
                prop_assert!(lookup(cmd.name().as_bytes()).is_some(), "{:?}", cmd);
            }
            Err(err) => {
                let text = err.to_string();
                prop_assert!(!text.contains('\r') && !text.contains('\n'), "{:?}", text);
                prop_assert!(text.starts_with("ERR "), "{:?}", text);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(all in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..8)) {
        let _ = Command::parse(to_bytes(all));
    }

    #[test]
    fn case_does_not_matter(name in name(), args in prop::collection::vec(arg(), 0..6)) {
        let lower: Vec<u8> = name.to_ascii_lowercase();
        let mut a = vec![name];
        a.extend(args.iter().cloned());
        let mut b = vec![lower];
        b.extend(args);
        let (ra, rb) = (Command::parse(to_bytes(a)), Command::parse(to_bytes(b)));
        // The unknown-command text echoes the name as sent.
        if !matches!(
            (&ra, &rb),
            (Err(CommandError::UnknownCommand { .. }), Err(CommandError::UnknownCommand { .. }))
        ) {
            prop_assert_eq!(ra, rb);
        }
    }
}
