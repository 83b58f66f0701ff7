//! Parse tests of the string commands.

use bytes::Bytes;

use super::*;
use crate::protocol::long_double::LongDouble;

fn set_of(line: &str) -> Set {
    match f(line) {
        Ok(Family::Strings(StringCommand::Set(set))) => set,
        other => panic!("{line:?}: {other:?}"),
    }
}

#[test]
fn set_options() {
    let s = set_of("set k v nx get ex 10");
    assert_eq!(s.condition.as_deref(), Some(&SetCondition::Nx));
    assert!(s.get);
    assert_eq!(s.expiry, Some(Expiry::Seconds(10)));
    assert_eq!(
        set_of("SET k v XX").condition.as_deref(),
        Some(&SetCondition::Xx)
    );
    assert_eq!(
        set_of("SET k v NX NX").condition.as_deref(),
        Some(&SetCondition::Nx)
    );
    assert_eq!(set_of("SET k v PX 5").expiry, Some(Expiry::Millis(5)));
    assert_eq!(
        set_of("SET k v EXAT 5").expiry,
        Some(Expiry::UnixSeconds(5))
    );
    assert_eq!(set_of("SET k v PXAT 5").expiry, Some(Expiry::UnixMillis(5)));
    assert_eq!(set_of("SET k v KEEPTTL").expiry, Some(Expiry::KeepTtl));
    assert_eq!(set_of("SET k v EX 1 EX 2").expiry, Some(Expiry::Seconds(2)));
    assert_eq!(
        set_of("SET k v IFEQ old").condition.as_deref(),
        Some(&SetCondition::IfEq(b("old")))
    );
    assert_eq!(
        set_of("SET k v ifne old").condition.as_deref(),
        Some(&SetCondition::IfNe(b("old")))
    );
    assert_eq!(
        set_of("SET k v IFDEQ 00ff").condition.as_deref(),
        Some(&SetCondition::IfDeq(255))
    );
    assert_eq!(
        set_of("SET k v IFDNE FF").condition.as_deref(),
        Some(&SetCondition::IfDne(255))
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
        Some(Expiry::Seconds(9_223_372_036_854_775))
    );
    assert_eq!(e("SET k v EX 99999999999999999999"), NOT_INT);
    // The syntax is checked before the number, as in Redis.
    assert_eq!(e("SET k v EX abc FOO"), SYNTAX);
    assert_eq!(
        pv(&[b"SET", b"\x00k", b"\xff"]).map(|cmd| {
            let (keys, family) = cmd.into_parts();
            (keys.into_vec(), family)
        }),
        Ok((
            vec![Bytes::from_static(b"\x00k")],
            Family::from(StringCommand::Set(Set {
                value: Bytes::from_static(b"\xff"),
                condition: None,
                get: false,
                expiry: None
            }))
        ))
    );
}

#[test]
fn setex_psetex_getset_setnx() {
    let s = set_of("SETEX k 10 v");
    assert_eq!(pk("SETEX k 10 v").map(|(keys, _)| keys), Ok(vec![b("k")]));
    assert_eq!((s.value, s.expiry), (b("v"), Some(Expiry::Seconds(10))));
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
        pk("SETNX k v"),
        ok(&["k"], StringCommand::SetNx { value: b("v") })
    );
    assert_eq!(e("SETNX k v x"), arity("setnx"));
}

#[test]
fn getdel_getex() {
    assert_eq!(pk("GETDEL k"), ok(&["k"], StringCommand::GetDel));
    assert_eq!(
        pk("GETEX k"),
        ok(&["k"], StringCommand::GetEx { expiry: None })
    );
    assert_eq!(
        pk("getex k persist"),
        ok(
            &["k"],
            StringCommand::GetEx {
                expiry: Some(GetExExpiry::Persist)
            }
        )
    );
    for (line, exp) in [
        ("GETEX k EX 5", Expiry::Seconds(5)),
        ("GETEX k px 5", Expiry::Millis(5)),
        ("GETEX k EXAT 5", Expiry::UnixSeconds(5)),
        ("GETEX k PXAT 5", Expiry::UnixMillis(5)),
    ] {
        assert_eq!(
            pk(line),
            ok(
                &["k"],
                StringCommand::GetEx {
                    expiry: Some(GetExExpiry::Expire(exp))
                }
            )
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
    // Redis checks the number only for an existing key: the server decides.
    let invalid = |line: &str| match f(line) {
        Ok(Family::Strings(StringCommand::GetEx {
            expiry: Some(GetExExpiry::Invalid(err)),
        })) => err.to_string(),
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(
        invalid("GETEX k EX 0"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        invalid("GETEX k PXAT -1"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        invalid("GETEX k EX 9223372036854776"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(invalid("GETEX k EX x"), NOT_INT);
    assert_eq!(e("GETEX"), arity("getex"));
}

#[test]
fn multi_key_strings() {
    assert_eq!(pk("MGET a b"), ok(&["a", "b"], StringCommand::MGet));
    assert_eq!(e("MGET"), arity("mget"));
    assert_eq!(
        pk("MSET a 1 b 2"),
        ok(
            &["a", "b"],
            StringCommand::MSet {
                values: vec![b("1"), b("2")]
            }
        )
    );
    assert_eq!(
        pk("msetnx a 1"),
        ok(
            &["a"],
            StringCommand::MSetNx {
                values: vec![b("1")]
            }
        )
    );
    assert_eq!(e("MSET a"), arity("mset"));
    assert_eq!(e("MSET a 1 b"), arity("mset"));
    assert_eq!(e("MSETNX a 1 b"), arity("msetnx"));
}

#[test]
fn append_strlen_ranges() {
    assert_eq!(
        pk("APPEND k v"),
        ok(&["k"], StringCommand::Append { value: b("v") })
    );
    assert_eq!(pk("STRLEN k"), ok(&["k"], StringCommand::StrLen));
    assert_eq!(
        pk("GETRANGE k 0 -1"),
        ok(&["k"], StringCommand::GetRange { start: 0, end: -1 })
    );
    assert_eq!(
        pk("substr k -3 5"),
        ok(&["k"], StringCommand::GetRange { start: -3, end: 5 })
    );
    assert_eq!(e("GETRANGE k a 1"), NOT_INT);
    assert_eq!(e("GETRANGE k 0"), arity("getrange"));
    assert_eq!(
        pk("SETRANGE k 5 v"),
        ok(
            &["k"],
            StringCommand::SetRange {
                offset: 5,
                value: b("v")
            }
        )
    );
    assert_eq!(e("SETRANGE k -1 v"), "ERR offset is out of range");
    assert_eq!(e("SETRANGE k x v"), NOT_INT);
    let max = MAX_STRING_LEN;
    assert_eq!(
        e(&format!("SETRANGE k {max} v")),
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
    let inc = |line: &str| match pk(line) {
        Ok((keys, Family::Strings(StringCommand::IncrBy { delta }))) => (keys[0].clone(), delta),
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
    let float = |text: &'static str| StringCommand::IncrByFloat {
        delta: LongDouble::parse(Bytes::from_static(text.as_bytes())).expect(text),
    };
    assert_eq!(pk("INCRBYFLOAT k 1.5"), ok(&["k"], float("1.5")));
    assert_eq!(pk("INCRBYFLOAT k -2e3"), ok(&["k"], float("-2e3")));
    assert_eq!(pk("INCRBYFLOAT k 3"), ok(&["k"], float("3")));
    // The increment is kept as sent: its value, a C long double, has no Rust type.
    assert_eq!(pk("INCRBYFLOAT k 0x1p3"), ok(&["k"], float("0x1p3")));
    // Infinite, or beyond f64 but not long double: a number; the server refuses an
    // infinite sum, after checking the stored value, as Redis does.
    assert_eq!(pk("INCRBYFLOAT k inf"), ok(&["k"], float("inf")));
    assert_eq!(pk("INCRBYFLOAT k -inf"), ok(&["k"], float("-inf")));
    assert_eq!(pk("INCRBYFLOAT k 1e999"), ok(&["k"], float("1e999")));
    for bad in ["abc", "nan", "1e5000", "1e-5000", "0x"] {
        assert_eq!(
            e(&format!("INCRBYFLOAT k {bad}")),
            "ERR value is not a valid float",
            "{bad}"
        );
    }
}

#[test]
fn delex_and_digest() {
    assert_eq!(
        pk("DELEX k"),
        ok(&["k"], StringCommand::DelEx { condition: None })
    );
    assert_eq!(
        pk("delex k ifeq v"),
        ok(
            &["k"],
            StringCommand::DelEx {
                condition: Some(ValueCondition::IfEq(b("v")))
            }
        )
    );
    assert_eq!(
        pk("DELEX k IFNE v"),
        ok(
            &["k"],
            StringCommand::DelEx {
                condition: Some(ValueCondition::IfNe(b("v")))
            }
        )
    );
    let d = digest(b"hello");
    let hex = digest_hex(d);
    assert_eq!(hex.len(), 16);
    assert_eq!(
        pk(&format!("DELEX k IFDEQ {hex}")),
        ok(
            &["k"],
            StringCommand::DelEx {
                condition: Some(ValueCondition::IfDeq(d))
            }
        )
    );
    assert_eq!(
        pk(&format!("DELEX k IFDNE {}", hex.to_uppercase())),
        ok(
            &["k"],
            StringCommand::DelEx {
                condition: Some(ValueCondition::IfDne(d))
            }
        )
    );
    assert_eq!(e("DELEX k IFEQ"), SYNTAX);
    assert_eq!(e("DELEX k FOO v"), SYNTAX);
    assert_eq!(e("DELEX k IFEQ v IFNE w"), SYNTAX);
    assert_eq!(e("DELEX k IFDEQ xyz"), "ERR invalid digest");
    assert_eq!(e("SET k v IFDEQ 12345678901234567"), "ERR invalid digest");
    assert_eq!(e("DELEX"), arity("delex"));
    assert_eq!(pk("DIGEST k"), ok(&["k"], StringCommand::Digest));
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
    assert_eq!(ExpireAt::Seconds(-2).deadline_millis(1000), Ok(-1000));
    assert_eq!(
        ExpireAt::Millis(i64::MAX).deadline_millis(1),
        Err(CommandError::InvalidExpireTime { command: "pexpire" })
    );
    assert_eq!(
        ExpireAt::Seconds(i64::MAX / 1000).deadline_millis(1000),
        Err(CommandError::InvalidExpireTime { command: "expire" })
    );
    assert_eq!(ExpireAt::UnixSeconds(3).deadline_millis(1), Ok(3000));
    assert_eq!(ExpireAt::UnixMillis(-3).deadline_millis(1), Ok(-3));
}

#[test]
fn lcs_options() {
    let lcs = |len, idx, min_match_len, with_match_len| StringCommand::Lcs {
        len,
        idx,
        min_match_len,
        with_match_len,
    };
    assert_eq!(pk("LCS a b"), ok(&["a", "b"], lcs(false, false, 0, false)));
    assert_eq!(
        pk("lcs a b len"),
        ok(&["a", "b"], lcs(true, false, 0, false))
    );
    assert_eq!(
        pk("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN"),
        ok(&["a", "b"], lcs(false, true, 4, true))
    );
    // A negative minimum is no minimum, as in Redis.
    assert_eq!(
        pk("LCS a b IDX MINMATCHLEN -2"),
        ok(&["a", "b"], lcs(false, true, 0, false))
    );
    assert_eq!(
        e("LCS a b LEN IDX"),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(e("LCS a b MINMATCHLEN"), SYNTAX);
    assert_eq!(e("LCS a b MINMATCHLEN x"), NOT_INT);
    assert_eq!(e("LCS a b FOO"), SYNTAX);
    assert_eq!(e("LCS a"), arity("lcs"));
}
