//! Unit tests of `Command::parse`: valid forms, options, case-insensitivity and every
//! error text, checked against what Redis 7 replies.

use std::ops::Bound;

use bytes::Bytes;

use super::*;

/// Parses a request written as space-separated words.
fn p(line: &str) -> Result<Command, CommandError> {
    Command::parse(
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect(),
    )
}

/// Parses raw arguments.
fn pv(args: &[&[u8]]) -> Result<Command, CommandError> {
    Command::parse(args.iter().map(|a| Bytes::copy_from_slice(a)).collect())
}

/// The error text of a request that must fail.
fn e(line: &str) -> String {
    match p(line) {
        Ok(cmd) => panic!("{line:?} parsed as {cmd:?}"),
        Err(err) => err.to_string(),
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[test]
fn get_set_del_ping_basics() {
    assert_eq!(p("GET k"), Ok(Command::Get { key: b("k") }));
    assert_eq!(p("get k"), Ok(Command::Get { key: b("k") }));
    assert_eq!(p("gEt k"), Ok(Command::Get { key: b("k") }));
    assert_eq!(e("GET"), arity("get"));
    assert_eq!(e("GET a b"), arity("get"));
    assert_eq!(
        p("SET k v"),
        Ok(Command::Set(Set {
            key: b("k"),
            value: b("v"),
            condition: None,
            get: false,
            expiry: None
        }))
    );
    assert_eq!(e("SET k"), arity("set"));
    assert_eq!(
        p("DEL a b"),
        Ok(Command::Del {
            keys: vec![b("a"), b("b")]
        })
    );
    assert_eq!(p("UNLINK a"), Ok(Command::Del { keys: vec![b("a")] }));
    assert_eq!(e("DEL"), arity("del"));
    assert_eq!(p("PING"), Ok(Command::Ping { message: None }));
    assert_eq!(
        p("ping hi"),
        Ok(Command::Ping {
            message: Some(b("hi"))
        })
    );
    assert_eq!(e("PING a b"), arity("ping"));
}

#[test]
fn unknown_command_text() {
    assert_eq!(
        e("foo a b"),
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        e("foo"),
        "ERR unknown command 'foo', with args beginning with: "
    );
    assert_eq!(Command::parse(Vec::new()), Err(CommandError::Empty));
}

fn set_of(line: &str) -> Set {
    match p(line) {
        Ok(Command::Set(set)) => set,
        other => panic!("{line:?}: {other:?}"),
    }
}

#[test]
fn set_options() {
    let s = set_of("set k v nx get ex 10");
    assert_eq!(s.condition, Some(SetCondition::Nx));
    assert!(s.get);
    assert_eq!(s.expiry, Some(Expiry::Seconds(10)));
    assert_eq!(set_of("SET k v XX").condition, Some(SetCondition::Xx));
    assert_eq!(set_of("SET k v NX NX").condition, Some(SetCondition::Nx));
    assert_eq!(set_of("SET k v PX 5").expiry, Some(Expiry::Millis(5)));
    assert_eq!(
        set_of("SET k v EXAT 5").expiry,
        Some(Expiry::UnixSeconds(5))
    );
    assert_eq!(set_of("SET k v PXAT 5").expiry, Some(Expiry::UnixMillis(5)));
    assert_eq!(set_of("SET k v KEEPTTL").expiry, Some(Expiry::KeepTtl));
    assert_eq!(set_of("SET k v EX 1 EX 2").expiry, Some(Expiry::Seconds(2)));
    assert_eq!(
        set_of("SET k v IFEQ old").condition,
        Some(SetCondition::IfEq(b("old")))
    );
    assert_eq!(
        set_of("SET k v ifne old").condition,
        Some(SetCondition::IfNe(b("old")))
    );
    assert_eq!(
        set_of("SET k v IFDEQ 00ff").condition,
        Some(SetCondition::IfDeq(255))
    );
    assert_eq!(
        set_of("SET k v IFDNE FF").condition,
        Some(SetCondition::IfDne(255))
    );
    for bad in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 1 PX 1",
        "SET k v EX 1 KEEPTTL",
        "SET k v KEEPTTL EX 1",
        "SET k v EX",
        "SET k v FOO",
        "SET k v IFEQ",
        "SET k v NX IFEQ x",
        "SET k v IFEQ x IFNE y",
        "SET k v PERSIST",
    ] {
        assert_eq!(e(bad), SYNTAX, "{bad}");
    }
    assert_eq!(e("SET k v EX abc"), NOT_INT);
    assert_eq!(
        e("SET k v EX 0"),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        e("SET k v PX -1"),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        e("SET k v EX 9223372036854776"),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        set_of("SET k v EX 9223372036854775").expiry,
        Some(Expiry::Seconds(9223372036854775))
    );
    assert_eq!(e("SET k v EX 99999999999999999999"), NOT_INT);
    // The syntax is checked before the number, as in Redis.
    assert_eq!(e("SET k v EX abc FOO"), SYNTAX);
    assert_eq!(
        pv(&[b"SET", b"\x00k", b"\xff"]),
        Ok(Command::Set(Set {
            key: Bytes::from_static(b"\x00k"),
            value: Bytes::from_static(b"\xff"),
            condition: None,
            get: false,
            expiry: None
        }))
    );
}

#[test]
fn range_bounds() {
    assert_eq!(
        p("RANGE - + LIMIT 10 REV"),
        Ok(Command::Range {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            limit: Some(10),
            reverse: true,
            keys_only: false
        })
    );
}
