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

#[test]
fn unknown_command_rendering() {
    let long = "a".repeat(200);
    assert_eq!(
        e(&format!("nope {long} b")),
        format!(
            "ERR unknown command 'nope', with args beginning with: '{}' ",
            "a".repeat(128)
        )
    );
    // Several arguments share the 128-byte budget, the last one cut to what is left.
    let thirty = "x".repeat(30);
    let text = e(&format!(
        "nope {thirty} {thirty} {thirty} {thirty} {thirty}"
    ));
    let expected_last = "x".repeat(128 - 3 * 33);
    assert_eq!(
        text,
        format!(
            "ERR unknown command 'nope', with args beginning with: '{thirty}' '{thirty}' '{thirty}' '{expected_last}' "
        )
    );
    let name = "N".repeat(300);
    assert_eq!(
        e(&name),
        format!(
            "ERR unknown command '{}', with args beginning with: ",
            "N".repeat(128)
        )
    );
    // CR/LF would break the RESP error line: Redis turns them into spaces.
    let err = pv(&[b"x\r\ny", b"a\nb"]).unwrap_err().to_string();
    assert_eq!(
        err,
        "ERR unknown command 'x  y', with args beginning with: 'a b' "
    );
    // Non-UTF-8 bytes do not panic.
    assert!(pv(&[b"\xff\xfe", b"\xc3"]).is_err());
    // A name longer than any command, but otherwise one, is unknown.
    assert!(matches!(
        p("getgetgetgetgetgetget k"),
        Err(CommandError::UnknownCommand { .. })
    ));
}

#[test]
fn setex_psetex_getset_setnx() {
    let s = set_of("SETEX k 10 v");
    assert_eq!(
        (s.key, s.value, s.expiry),
        (b("k"), b("v"), Some(Expiry::Seconds(10)))
    );
    assert_eq!(set_of("psetex k 10 v").expiry, Some(Expiry::Millis(10)));
    assert_eq!(
        e("SETEX k 0 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        e("PSETEX k -5 v"),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(e("SETEX k x v"), NOT_INT);
    assert_eq!(e("SETEX k 1"), arity("setex"));
    let s = set_of("GETSET k v");
    assert!(s.get && s.condition.is_none() && s.expiry.is_none());
    assert_eq!(e("GETSET k"), arity("getset"));
    assert_eq!(
        p("SETNX k v"),
        Ok(Command::SetNx {
            key: b("k"),
            value: b("v")
        })
    );
    assert_eq!(e("SETNX k v x"), arity("setnx"));
}

#[test]
fn getdel_getex() {
    assert_eq!(p("GETDEL k"), Ok(Command::GetDel { key: b("k") }));
    assert_eq!(
        p("GETEX k"),
        Ok(Command::GetEx {
            key: b("k"),
            expiry: None
        })
    );
    assert_eq!(
        p("getex k persist"),
        Ok(Command::GetEx {
            key: b("k"),
            expiry: Some(GetExExpiry::Persist)
        })
    );
    for (line, exp) in [
        ("GETEX k EX 5", Expiry::Seconds(5)),
        ("GETEX k px 5", Expiry::Millis(5)),
        ("GETEX k EXAT 5", Expiry::UnixSeconds(5)),
        ("GETEX k PXAT 5", Expiry::UnixMillis(5)),
    ] {
        assert_eq!(
            p(line),
            Ok(Command::GetEx {
                key: b("k"),
                expiry: Some(GetExExpiry::Expire(exp))
            })
        );
    }
    for bad in [
        "GETEX k NX",
        "GETEX k GET",
        "GETEX k KEEPTTL",
        "GETEX k EX 1 PERSIST",
        "GETEX k PERSIST PX 1",
        "GETEX k EX",
        "GETEX k EX 1 PX 1",
    ] {
        assert_eq!(e(bad), SYNTAX, "{bad}");
    }
    assert_eq!(
        e("GETEX k EX 0"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(e("GETEX k EX x"), NOT_INT);
    assert_eq!(e("GETEX"), arity("getex"));
}

#[test]
fn multi_key_strings() {
    assert_eq!(
        p("MGET a b"),
        Ok(Command::MGet {
            keys: vec![b("a"), b("b")]
        })
    );
    assert_eq!(e("MGET"), arity("mget"));
    assert_eq!(
        p("MSET a 1 b 2"),
        Ok(Command::MSet {
            pairs: vec![(b("a"), b("1")), (b("b"), b("2"))]
        })
    );
    assert_eq!(
        p("msetnx a 1"),
        Ok(Command::MSetNx {
            pairs: vec![(b("a"), b("1"))]
        })
    );
    assert_eq!(e("MSET a"), arity("mset"));
    assert_eq!(e("MSET a 1 b"), arity("mset"));
    assert_eq!(e("MSETNX a 1 b"), arity("msetnx"));
}

#[test]
fn append_strlen_ranges() {
    assert_eq!(
        p("APPEND k v"),
        Ok(Command::Append {
            key: b("k"),
            value: b("v")
        })
    );
    assert_eq!(p("STRLEN k"), Ok(Command::StrLen { key: b("k") }));
    assert_eq!(
        p("GETRANGE k 0 -1"),
        Ok(Command::GetRange {
            key: b("k"),
            start: 0,
            end: -1
        })
    );
    assert_eq!(
        p("substr k -3 5"),
        Ok(Command::GetRange {
            key: b("k"),
            start: -3,
            end: 5
        })
    );
    assert_eq!(e("GETRANGE k a 1"), NOT_INT);
    assert_eq!(e("GETRANGE k 0"), arity("getrange"));
    assert_eq!(
        p("SETRANGE k 5 v"),
        Ok(Command::SetRange {
            key: b("k"),
            offset: 5,
            value: b("v")
        })
    );
    assert_eq!(e("SETRANGE k -1 v"), "ERR offset is out of range");
    assert_eq!(e("SETRANGE k x v"), NOT_INT);
    let max = MAX_STRING_LEN;
    assert_eq!(
        e(&format!("SETRANGE k {} v", max)),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert!(p(&format!("SETRANGE k {} v", max - 1)).is_ok());
    assert_eq!(
        e(&format!("SETRANGE k {} vv", max - 1)),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    // An empty value never grows the string: Redis accepts any offset then.
    assert!(pv(&[b"SETRANGE", b"k", b"9223372036854775807", b""]).is_ok());
}

#[test]
fn counters() {
    let inc = |line: &str| match p(line) {
        Ok(Command::IncrBy { key, delta }) => (key, delta),
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(inc("INCR k"), (b("k"), 1));
    assert_eq!(inc("decr k"), (b("k"), -1));
    assert_eq!(inc("INCRBY k 5"), (b("k"), 5));
    assert_eq!(inc("INCRBY k -5"), (b("k"), -5));
    assert_eq!(inc("DECRBY k 5"), (b("k"), -5));
    assert_eq!(inc("DECRBY k -9223372036854775807"), (b("k"), i64::MAX));
    assert_eq!(inc("INCRBY k -9223372036854775808"), (b("k"), i64::MIN));
    assert_eq!(
        e("DECRBY k -9223372036854775808"),
        "ERR decrement would overflow"
    );
    assert_eq!(e("INCRBY k 1.5"), NOT_INT);
    assert_eq!(e("INCRBY k +1"), NOT_INT);
    assert_eq!(e("INCRBY k 01"), NOT_INT);
    assert_eq!(e("INCRBY k 9223372036854775808"), NOT_INT);
    assert_eq!(e("INCR k 1"), arity("incr"));
    assert_eq!(e("DECRBY k"), arity("decrby"));
    assert_eq!(
        p("INCRBYFLOAT k 1.5"),
        Ok(Command::IncrByFloat {
            key: b("k"),
            delta: 1.5
        })
    );
    assert_eq!(
        p("INCRBYFLOAT k -2e3"),
        Ok(Command::IncrByFloat {
            key: b("k"),
            delta: -2000.0
        })
    );
    assert_eq!(
        p("INCRBYFLOAT k 3"),
        Ok(Command::IncrByFloat {
            key: b("k"),
            delta: 3.0
        })
    );
    assert_eq!(e("INCRBYFLOAT k abc"), "ERR value is not a valid float");
    assert_eq!(e("INCRBYFLOAT k nan"), "ERR value is not a valid float");
    assert_eq!(
        e("INCRBYFLOAT k inf"),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        e("INCRBYFLOAT k -inf"),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        e("INCRBYFLOAT k 1e999"),
        "ERR increment would produce NaN or Infinity"
    );
}

#[test]
fn delex_and_digest() {
    assert_eq!(
        p("DELEX k"),
        Ok(Command::DelEx {
            key: b("k"),
            condition: None
        })
    );
    assert_eq!(
        p("delex k ifeq v"),
        Ok(Command::DelEx {
            key: b("k"),
            condition: Some(ValueCondition::IfEq(b("v")))
        })
    );
    assert_eq!(
        p("DELEX k IFNE v"),
        Ok(Command::DelEx {
            key: b("k"),
            condition: Some(ValueCondition::IfNe(b("v")))
        })
    );
    let d = digest(b"hello");
    let hex = digest_hex(d);
    assert_eq!(hex.len(), 16);
    assert_eq!(
        p(&format!("DELEX k IFDEQ {hex}")),
        Ok(Command::DelEx {
            key: b("k"),
            condition: Some(ValueCondition::IfDeq(d))
        })
    );
    assert_eq!(
        p(&format!("DELEX k IFDNE {}", hex.to_uppercase())),
        Ok(Command::DelEx {
            key: b("k"),
            condition: Some(ValueCondition::IfDne(d))
        })
    );
    assert_eq!(e("DELEX k IFEQ"), SYNTAX);
    assert_eq!(e("DELEX k FOO v"), SYNTAX);
    assert_eq!(e("DELEX k IFEQ v IFNE w"), SYNTAX);
    assert_eq!(e("DELEX k IFDEQ xyz"), "ERR invalid digest");
    assert_eq!(e("SET k v IFDEQ 12345678901234567"), "ERR invalid digest");
    assert_eq!(e("DELEX"), arity("delex"));
    assert_eq!(p("DIGEST k"), Ok(Command::Digest { key: b("k") }));
    assert_eq!(e("DIGEST"), arity("digest"));
}

#[test]
fn expiry_deadlines() {
    assert_eq!(
        Expiry::Seconds(2).deadline_millis(1000, "set"),
        Ok(Some(3000))
    );
    assert_eq!(
        Expiry::Millis(2).deadline_millis(1000, "set"),
        Ok(Some(1002))
    );
    assert_eq!(
        Expiry::UnixSeconds(2).deadline_millis(1000, "set"),
        Ok(Some(2000))
    );
    assert_eq!(
        Expiry::UnixMillis(2).deadline_millis(1000, "set"),
        Ok(Some(2))
    );
    assert_eq!(Expiry::KeepTtl.deadline_millis(1000, "set"), Ok(None));
    assert_eq!(
        Expiry::Millis(i64::MAX as u64).deadline_millis(1, "set"),
        Err(CommandError::InvalidExpireTime { command: "set" })
    );
    assert_eq!(ExpireAt::Seconds(-2).deadline_millis(1000), Some(-1000));
    assert_eq!(ExpireAt::Millis(i64::MAX).deadline_millis(1), None);
    assert_eq!(ExpireAt::UnixSeconds(3).deadline_millis(1), Some(3000));
    assert_eq!(ExpireAt::UnixMillis(3).deadline_millis(1), Some(3));
}

#[test]
fn generic_key_commands() {
    assert_eq!(
        p("EXISTS a a"),
        Ok(Command::Exists {
            keys: vec![b("a"), b("a")]
        })
    );
    assert_eq!(e("EXISTS"), arity("exists"));
    assert_eq!(p("TYPE k"), Ok(Command::Type { key: b("k") }));
    assert_eq!(p("TTL k"), Ok(Command::Ttl { key: b("k") }));
    assert_eq!(p("PTTL k"), Ok(Command::PTtl { key: b("k") }));
    assert_eq!(p("EXPIRETIME k"), Ok(Command::ExpireTime { key: b("k") }));
    assert_eq!(p("PEXPIRETIME k"), Ok(Command::PExpireTime { key: b("k") }));
    assert_eq!(p("PERSIST k"), Ok(Command::Persist { key: b("k") }));
    assert_eq!(e("TTL a b"), arity("ttl"));
    assert_eq!(e("PERSIST"), arity("persist"));
    assert_eq!(p("KEYS a*"), Ok(Command::Keys { pattern: b("a*") }));
    assert_eq!(e("KEYS"), arity("keys"));
    assert_eq!(
        p("RENAME a b"),
        Ok(Command::Rename {
            from: b("a"),
            to: b("b")
        })
    );
    assert_eq!(
        p("renamenx a b"),
        Ok(Command::RenameNx {
            from: b("a"),
            to: b("b")
        })
    );
    assert_eq!(e("RENAME a"), arity("rename"));
    assert_eq!(p("DBSIZE"), Ok(Command::DbSize));
    assert_eq!(e("DBSIZE x"), arity("dbsize"));
    assert_eq!(p("FLUSHDB"), Ok(Command::FlushDb));
    assert_eq!(p("flushdb async"), Ok(Command::FlushDb));
    assert_eq!(p("FLUSHALL SYNC"), Ok(Command::FlushAll));
    assert_eq!(e("FLUSHALL LAZY"), SYNTAX);
    assert_eq!(e("FLUSHDB ASYNC SYNC"), SYNTAX);
}

#[test]
fn expire_family() {
    let exp = |line: &str| match p(line) {
        Ok(Command::Expire {
            key,
            when,
            condition,
        }) => (key, when, condition),
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(exp("EXPIRE k 10"), (b("k"), ExpireAt::Seconds(10), None));
    assert_eq!(exp("PEXPIRE k -10"), (b("k"), ExpireAt::Millis(-10), None));
    assert_eq!(
        exp("EXPIREAT k 0"),
        (b("k"), ExpireAt::UnixSeconds(0), None)
    );
    assert_eq!(
        exp("pexpireat k 5"),
        (b("k"), ExpireAt::UnixMillis(5), None)
    );
    assert_eq!(exp("EXPIRE k 1 nx").2, Some(ExpireCondition::Nx));
    assert_eq!(exp("EXPIRE k 1 XX").2, Some(ExpireCondition::Xx));
    assert_eq!(exp("EXPIRE k 1 GT").2, Some(ExpireCondition::Gt));
    assert_eq!(exp("EXPIRE k 1 LT").2, Some(ExpireCondition::Lt));
    assert_eq!(exp("EXPIRE k 1 XX GT").2, Some(ExpireCondition::XxGt));
    assert_eq!(exp("EXPIRE k 1 LT XX").2, Some(ExpireCondition::XxLt));
    assert_eq!(exp("EXPIRE k 1 NX NX").2, Some(ExpireCondition::Nx));
    assert_eq!(
        e("EXPIRE k 1 NX XX"),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        e("EXPIRE k 1 GT NX"),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        e("EXPIRE k 1 GT LT"),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(e("EXPIRE k 1 FOO"), "ERR Unsupported option FOO");
    // Options are checked before the number, as Redis does.
    assert_eq!(e("EXPIRE k abc FOO"), "ERR Unsupported option FOO");
    assert_eq!(e("EXPIRE k abc"), NOT_INT);
    assert_eq!(
        e("EXPIRE k 9223372036854776"),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        e("EXPIREAT k -9223372036854776"),
        "ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(
        exp("PEXPIRE k 9223372036854775807").1,
        ExpireAt::Millis(i64::MAX)
    );
    assert_eq!(e("EXPIRE k"), arity("expire"));
    assert_eq!(e("PEXPIREAT k"), arity("pexpireat"));
    assert_eq!(p("PEXPIRE k 1").map(|c| c.name()), Ok("pexpire"));
}

#[test]
fn scan_options() {
    assert_eq!(
        p("SCAN 0"),
        Ok(Command::Scan {
            cursor: 0,
            pattern: None,
            count: None,
            kind: None
        })
    );
    assert_eq!(
        p("scan 18446744073709551615 match a* count 10 type string"),
        Ok(Command::Scan {
            cursor: u64::MAX,
            pattern: Some(b("a*")),
            count: Some(10),
            kind: Some(b("string"))
        })
    );
    assert_eq!(
        p("SCAN 5 MATCH *"),
        Ok(Command::Scan {
            cursor: 5,
            pattern: None,
            count: None,
            kind: None
        })
    );
    assert_eq!(
        p("SCAN 5 COUNT 1 COUNT 7 TYPE whatever"),
        Ok(Command::Scan {
            cursor: 5,
            pattern: None,
            count: Some(7),
            kind: Some(b("whatever"))
        })
    );
    assert_eq!(e("SCAN abc"), "ERR invalid cursor");
    assert_eq!(e("SCAN -1"), "ERR invalid cursor");
    assert_eq!(e("SCAN 18446744073709551616"), "ERR invalid cursor");
    assert_eq!(e("SCAN abc COUNT 0"), "ERR invalid cursor");
    assert_eq!(e("SCAN 0 COUNT 0"), SYNTAX);
    assert_eq!(e("SCAN 0 COUNT -1"), SYNTAX);
    assert_eq!(e("SCAN 0 COUNT x"), NOT_INT);
    assert_eq!(e("SCAN 0 COUNT"), SYNTAX);
    assert_eq!(e("SCAN 0 MATCH"), SYNTAX);
    assert_eq!(e("SCAN 0 FOO bar"), SYNTAX);
    assert_eq!(e("SCAN"), arity("scan"));
}

#[test]
fn range_and_rangekeys() {
    assert_eq!(
        p("RANGE a z"),
        Ok(Command::Range {
            start: Bound::Included(b("a")),
            end: Bound::Excluded(b("z")),
            limit: None,
            reverse: false,
            keys_only: false
        })
    );
    assert_eq!(
        p("rangekeys - z rev limit 0"),
        Ok(Command::Range {
            start: Bound::Unbounded,
            end: Bound::Excluded(b("z")),
            limit: Some(0),
            reverse: true,
            keys_only: true
        })
    );
    assert_eq!(p("RANGEKEYS a +").map(|c| c.name()), Ok("rangekeys"));
    assert_eq!(e("RANGE a z LIMIT"), SYNTAX);
    assert_eq!(e("RANGE a z LIMIT -1"), NOT_INT);
    assert_eq!(e("RANGE a z LIMIT x"), NOT_INT);
    assert_eq!(e("RANGE a z FOO"), SYNTAX);
    assert_eq!(e("RANGE a"), arity("range"));
}

#[test]
fn transactions() {
    assert_eq!(p("MULTI"), Ok(Command::Multi));
    assert_eq!(p("exec"), Ok(Command::Exec));
    assert_eq!(p("DISCARD"), Ok(Command::Discard));
    assert_eq!(p("UNWATCH"), Ok(Command::Unwatch));
    assert_eq!(
        p("WATCH a b"),
        Ok(Command::Watch {
            keys: vec![b("a"), b("b")]
        })
    );
    assert_eq!(e("WATCH"), arity("watch"));
    assert_eq!(e("MULTI x"), arity("multi"));
    assert_eq!(e("EXEC x"), arity("exec"));
}

#[test]
fn connection_commands() {
    assert_eq!(p("ECHO hi"), Ok(Command::Echo { message: b("hi") }));
    assert_eq!(e("ECHO"), arity("echo"));
    assert_eq!(e("ECHO a b"), arity("echo"));
    assert_eq!(
        p("AUTH pw"),
        Ok(Command::Auth {
            username: None,
            password: b("pw")
        })
    );
    assert_eq!(
        p("auth user pw"),
        Ok(Command::Auth {
            username: Some(b("user")),
            password: b("pw")
        })
    );
    assert_eq!(e("AUTH a b c"), SYNTAX);
    assert_eq!(e("AUTH"), arity("auth"));
    assert_eq!(p("SELECT 0"), Ok(Command::Select { index: 0 }));
    assert_eq!(p("SELECT -3"), Ok(Command::Select { index: -3 }));
    assert_eq!(e("SELECT x"), "ERR invalid DB index");
    assert_eq!(e("SELECT 2147483648"), "ERR invalid DB index");
    assert_eq!(e("SELECT"), arity("select"));
    assert_eq!(p("QUIT"), Ok(Command::Quit));
    assert_eq!(p("QUIT now"), Ok(Command::Quit));
    assert_eq!(p("RESET"), Ok(Command::Reset));
    assert_eq!(e("RESET x"), arity("reset"));
    assert_eq!(p("TIME"), Ok(Command::Time));
    assert_eq!(e("TIME x"), arity("time"));
    assert_eq!(p("INFO"), Ok(Command::Info { sections: vec![] }));
    assert_eq!(
        p("INFO server keyspace"),
        Ok(Command::Info {
            sections: vec![b("server"), b("keyspace")]
        })
    );
}

#[test]
fn hello_forms() {
    let none = Command::Hello {
        protover: None,
        auth: None,
        setname: None,
    };
    assert_eq!(p("HELLO"), Ok(none));
    assert_eq!(
        p("hello 3"),
        Ok(Command::Hello {
            protover: Some(3),
            auth: None,
            setname: None
        })
    );
    assert_eq!(
        p("HELLO 2 AUTH u pw SETNAME me"),
        Ok(Command::Hello {
            protover: Some(2),
            auth: Some((b("u"), b("pw"))),
            setname: Some(b("me"))
        })
    );
    assert_eq!(
        p("HELLO 3 setname me auth u pw"),
        Ok(Command::Hello {
            protover: Some(3),
            auth: Some((b("u"), b("pw"))),
            setname: Some(b("me"))
        })
    );
    // An unsupported version parses; options are not looked at (the server says NOPROTO).
    assert_eq!(
        p("HELLO 4 garbage"),
        Ok(Command::Hello {
            protover: Some(4),
            auth: None,
            setname: None
        })
    );
    assert_eq!(
        p("HELLO -1"),
        Ok(Command::Hello {
            protover: Some(-1),
            auth: None,
            setname: None
        })
    );
    let proto = "ERR Protocol version is not an integer or out of range";
    assert_eq!(e("HELLO three"), proto);
    assert_eq!(e("HELLO 3.0"), proto);
    assert_eq!(
        e("HELLO 3 AUTH u"),
        "ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        e("HELLO 3 SETNAME"),
        "ERR Syntax error in HELLO option 'SETNAME'"
    );
    assert_eq!(e("HELLO 3 foo"), "ERR Syntax error in HELLO option 'foo'");
    // SETNAME is validated by the server after AUTH, as Redis orders it.
    assert!(pv(&[b"HELLO", b"3", b"SETNAME", b"a b"]).is_ok());
    assert_eq!(
        validate_client_name(b"a b"),
        Err(CommandError::InvalidClientName)
    );
    assert_eq!(validate_client_name(b""), Ok(()));
}

#[test]
fn client_subcommands() {
    let c = |line: &str| match p(line) {
        Ok(Command::Client(cmd)) => cmd,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(c("CLIENT ID"), ClientCommand::Id);
    assert_eq!(c("client getname"), ClientCommand::GetName);
    assert_eq!(c("CLIENT INFO"), ClientCommand::Info);
    assert_eq!(c("CLIENT HELP"), ClientCommand::Help);
    assert_eq!(
        c("CLIENT SETNAME conn-1"),
        ClientCommand::SetName(b("conn-1"))
    );
    assert_eq!(
        pv(&[b"CLIENT", b"SETNAME", b""]),
        Ok(Command::Client(ClientCommand::SetName(Bytes::new())))
    );
    let bad_name = "ERR Client names cannot contain spaces, newlines or special characters.";
    for name in [&b"a b"[..], b"a\nb", b"\x7f", b"\xc3\xa9"] {
        assert_eq!(
            pv(&[b"CLIENT", b"SETNAME", name]).unwrap_err().to_string(),
            bad_name
        );
    }
    assert_eq!(
        c("CLIENT SETINFO lib-name redis-py"),
        ClientCommand::SetInfo {
            attr: ClientAttr::LibName,
            value: b("redis-py")
        }
    );
    assert_eq!(
        c("CLIENT SETINFO LIB-VER 5.0.1"),
        ClientCommand::SetInfo {
            attr: ClientAttr::LibVer,
            value: b("5.0.1")
        }
    );
    assert_eq!(
        e("CLIENT SETINFO lib-foo x"),
        "ERR Unrecognized option 'lib-foo'"
    );
    assert_eq!(
        pv(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"a b"])
            .unwrap_err()
            .to_string(),
        "ERR LIB-NAME cannot contain spaces, newlines or special characters."
    );
    assert_eq!(c("CLIENT NO-EVICT on"), ClientCommand::NoEvict(true));
    assert_eq!(c("CLIENT NO-TOUCH OFF"), ClientCommand::NoTouch(false));
    assert_eq!(e("CLIENT NO-EVICT maybe"), SYNTAX);
    // LIST
    assert_eq!(
        c("CLIENT LIST"),
        ClientCommand::List {
            kind: None,
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST TYPE pubsub"),
        ClientCommand::List {
            kind: Some(ClientType::PubSub),
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST TYPE slave"),
        ClientCommand::List {
            kind: Some(ClientType::Replica),
            ids: vec![]
        }
    );
    assert_eq!(
        c("CLIENT LIST ID 1 -2"),
        ClientCommand::List {
            kind: None,
            ids: vec![1, -2]
        }
    );
    assert_eq!(
        e("CLIENT LIST TYPE bogus"),
        "ERR Unknown client type 'bogus'"
    );
    assert_eq!(e("CLIENT LIST ID 1 x"), "ERR Invalid client ID");
    assert_eq!(e("CLIENT LIST TYPE"), SYNTAX);
    assert_eq!(e("CLIENT LIST ID"), SYNTAX);
    assert_eq!(e("CLIENT LIST TYPE normal x"), SYNTAX);
    // KILL
    assert_eq!(
        c("CLIENT KILL 127.0.0.1:5000"),
        ClientCommand::Kill(ClientKill::Addr(b("127.0.0.1:5000")))
    );
    let kill = c(
        "CLIENT KILL ID 7 SKIPME no TYPE normal ADDR 1.2.3.4:5 LADDR 1.1.1.1:1 USER bob MAXAGE 30",
    );
    assert_eq!(
        kill,
        ClientCommand::Kill(ClientKill::Filter(ClientKillFilter {
            id: Some(7),
            kind: Some(ClientType::Normal),
            addr: Some(b("1.2.3.4:5")),
            laddr: Some(b("1.1.1.1:1")),
            user: Some(b("bob")),
            skip_me: false,
            max_age: Some(30),
        }))
    );
    match c("CLIENT KILL ID 1") {
        ClientCommand::Kill(ClientKill::Filter(f)) => assert!(f.skip_me),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e("CLIENT KILL ID 0"),
        "ERR client-id should be greater than 0"
    );
    assert_eq!(
        e("CLIENT KILL ID x"),
        "ERR client-id should be greater than 0"
    );
    assert_eq!(e("CLIENT KILL TYPE x"), "ERR Unknown client type 'x'");
    assert_eq!(e("CLIENT KILL SKIPME maybe"), SYNTAX);
    assert_eq!(e("CLIENT KILL ID 1 TYPE"), SYNTAX);
    assert_eq!(e("CLIENT KILL FOO bar"), SYNTAX);
    assert_eq!(e("CLIENT KILL MAXAGE x"), NOT_INT);
    // arity and unknown subcommands
    assert_eq!(e("CLIENT"), arity("client"));
    assert_eq!(e("CLIENT SETNAME"), arity("client|setname"));
    assert_eq!(e("CLIENT ID x"), arity("client|id"));
    assert_eq!(e("CLIENT KILL"), arity("client|kill"));
    assert_eq!(e("CLIENT SETINFO lib-name"), arity("client|setinfo"));
    assert_eq!(
        e("client foo"),
        "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    );
    assert_eq!(
        e("client foo bar"),
        "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    );
    let long = "s".repeat(200);
    assert_eq!(
        e(&format!("CLIENT {long}")),
        format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            "s".repeat(128)
        )
    );
}

#[test]
fn command_subcommands() {
    let q = |line: &str| match p(line) {
        Ok(Command::CommandInfo(q)) => q,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(q("COMMAND"), CommandQuery::All);
    assert_eq!(q("command count"), CommandQuery::Count);
    assert_eq!(q("COMMAND HELP"), CommandQuery::Help);
    assert_eq!(q("COMMAND INFO"), CommandQuery::Info(vec![]));
    assert_eq!(
        q("COMMAND INFO get set"),
        CommandQuery::Info(vec![b("get"), b("set")])
    );
    assert_eq!(q("COMMAND DOCS"), CommandQuery::Docs(vec![]));
    assert_eq!(q("COMMAND DOCS get"), CommandQuery::Docs(vec![b("get")]));
    assert_eq!(q("COMMAND LIST"), CommandQuery::List(None));
    assert_eq!(
        q("COMMAND LIST FILTERBY pattern g*"),
        CommandQuery::List(Some(CommandListFilter::Pattern(b("g*"))))
    );
    assert_eq!(
        q("COMMAND LIST FILTERBY ACLCAT read"),
        CommandQuery::List(Some(CommandListFilter::AclCat(b("read"))))
    );
    assert_eq!(
        q("COMMAND LIST FILTERBY MODULE m"),
        CommandQuery::List(Some(CommandListFilter::Module(b("m"))))
    );
    assert_eq!(e("COMMAND LIST FILTERBY foo x"), SYNTAX);
    assert_eq!(e("COMMAND LIST FILTERBY pattern"), SYNTAX);
    assert_eq!(e("COMMAND LIST foo"), SYNTAX);
    assert_eq!(e("COMMAND COUNT x"), arity("command|count"));
    assert_eq!(
        e("COMMAND foo"),
        "ERR unknown subcommand 'foo'. Try COMMAND HELP."
    );
}

#[test]
fn config_subcommands() {
    let c = |line: &str| match p(line) {
        Ok(Command::Config(c)) => c,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(c("CONFIG GET save"), ConfigCommand::Get(vec![b("save")]));
    assert_eq!(
        c("config get save appendonly"),
        ConfigCommand::Get(vec![b("save"), b("appendonly")])
    );
    assert_eq!(
        c("CONFIG SET a 1"),
        ConfigCommand::Set(vec![(b("a"), b("1"))])
    );
    assert_eq!(
        c("CONFIG SET a 1 b 2"),
        ConfigCommand::Set(vec![(b("a"), b("1")), (b("b"), b("2"))])
    );
    assert_eq!(c("CONFIG RESETSTAT"), ConfigCommand::ResetStat);
    assert_eq!(c("CONFIG REWRITE"), ConfigCommand::Rewrite);
    assert_eq!(c("CONFIG HELP"), ConfigCommand::Help);
    assert_eq!(e("CONFIG"), arity("config"));
    assert_eq!(e("CONFIG GET"), arity("config|get"));
    assert_eq!(e("CONFIG SET a"), arity("config|set"));
    assert_eq!(e("CONFIG SET a 1 b"), arity("config|set"));
    assert_eq!(e("CONFIG RESETSTAT x"), arity("config|resetstat"));
    assert_eq!(
        e("CONFIG foo"),
        "ERR unknown subcommand 'foo'. Try CONFIG HELP."
    );
}

#[test]
fn shutdown_options() {
    let s = |line: &str| p(line).map_err(|e| e.to_string());
    assert_eq!(
        s("SHUTDOWN"),
        Ok(Command::Shutdown {
            save: None,
            now: false,
            force: false,
            abort: false
        })
    );
    assert_eq!(
        s("shutdown nosave now force"),
        Ok(Command::Shutdown {
            save: Some(false),
            now: true,
            force: true,
            abort: false
        })
    );
    assert_eq!(
        s("SHUTDOWN SAVE"),
        Ok(Command::Shutdown {
            save: Some(true),
            now: false,
            force: false,
            abort: false
        })
    );
    assert_eq!(
        s("SHUTDOWN ABORT"),
        Ok(Command::Shutdown {
            save: None,
            now: false,
            force: false,
            abort: true
        })
    );
    assert_eq!(e("SHUTDOWN SAVE NOSAVE"), SYNTAX);
    assert_eq!(e("SHUTDOWN ABORT NOW"), SYNTAX);
    assert_eq!(e("SHUTDOWN FOO"), SYNTAX);
}

/// A plausible argument list of exactly `n` arguments for `name` (name included).
fn filler(name: &str, n: usize) -> Vec<Bytes> {
    let mut args = vec![Bytes::copy_from_slice(name.as_bytes())];
    args.extend((1..n).map(|_| b("1")));
    args
}

#[test]
fn every_table_entry_parses() {
    for spec in COMMANDS {
        let n = spec.arity.unsigned_abs() as usize;
        if spec.subcommands.is_empty() {
            let args = filler(spec.name, n);
            let result = Command::parse(args);
            assert!(
                !matches!(result, Err(CommandError::UnknownCommand { .. })),
                "{} has no parser: {result:?}",
                spec.name
            );
            if let Ok(cmd) = &result {
                let named = lookup(cmd.name().as_bytes()).expect("name() is in the table");
                assert_eq!(named.group, spec.group, "{}", spec.name);
            }
        }
        for sub in spec.subcommands {
            let mut args = filler(spec.name, 1);
            args.push(Bytes::copy_from_slice(sub.short_name().as_bytes()));
            args.extend((2..sub.arity.unsigned_abs() as usize).map(|_| b("on")));
            let result = Command::parse(args);
            assert!(
                !matches!(
                    result,
                    Err(CommandError::UnknownCommand { .. }
                        | CommandError::UnknownSubcommand { .. })
                ),
                "{}: {result:?}",
                sub.name
            );
        }
        // One argument too few is always an arity error naming the command.
        if n > 1 {
            let result = Command::parse(filler(spec.name, n - 1));
            assert_eq!(
                result,
                Err(CommandError::WrongArity { command: spec.name }),
                "{}",
                spec.name
            );
        }
    }
}

#[test]
fn names_and_write_flags() {
    assert_eq!(p("SETEX k 1 v").map(|c| c.name()), Ok("set"));
    assert_eq!(p("UNLINK k").map(|c| c.name()), Ok("del"));
    assert_eq!(p("DECR k").map(|c| c.name()), Ok("incrby"));
    assert_eq!(p("SUBSTR k 0 1").map(|c| c.name()), Ok("getrange"));
    assert_eq!(p("CLIENT ID").map(|c| c.name()), Ok("client"));
    assert_eq!(p("COMMAND").map(|c| c.name()), Ok("command"));
    assert_eq!(Command::Batch { ops: vec![] }.name(), "batch");
    assert!(p("SET k v").is_ok_and(|c| c.is_write()));
    assert!(p("GET k").is_ok_and(|c| !c.is_write()));
    assert!(Command::Batch { ops: vec![] }.is_write());
}

#[test]
fn error_texts_without_parse_paths() {
    assert_eq!(
        CommandError::IncrementOverflow.to_string(),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        CommandError::NanOrInfinity.to_string(),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(CommandError::Empty.to_string(), "ERR empty command");
}
