//! Parse tests of the key-space commands, RANGE and transactions.

use std::ops::Bound;

use super::*;

#[test]
fn range_bounds() {
    assert_eq!(
        pk("RANGE - + LIMIT 10 REV"),
        ok(
            &[],
            ScanCommand::Range(Box::new(Range {
                start: Bound::Unbounded,
                end: Bound::Unbounded,
                limit: Some(10),
                reverse: true,
                keys_only: false
            }))
        )
    );
}

#[test]
fn generic_key_commands() {
    assert_eq!(pk("EXISTS a a"), ok(&["a", "a"], GenericCommand::Exists));
    assert_eq!(e("EXISTS"), arity("exists"));
    assert_eq!(pk("TYPE k"), ok(&["k"], GenericCommand::Type));
    assert_eq!(pk("TTL k"), ok(&["k"], GenericCommand::Ttl));
    assert_eq!(pk("PTTL k"), ok(&["k"], GenericCommand::PTtl));
    assert_eq!(pk("EXPIRETIME k"), ok(&["k"], GenericCommand::ExpireTime));
    assert_eq!(pk("PEXPIRETIME k"), ok(&["k"], GenericCommand::PExpireTime));
    assert_eq!(pk("PERSIST k"), ok(&["k"], GenericCommand::Persist));
    assert_eq!(e("TTL a b"), arity("ttl"));
    assert_eq!(e("PERSIST"), arity("persist"));
    assert_eq!(
        pk("KEYS a*"),
        ok(&[], ScanCommand::Keys { pattern: b("a*") })
    );
    assert_eq!(e("KEYS"), arity("keys"));
    assert_eq!(pk("RENAME a b"), ok(&["a", "b"], GenericCommand::Rename));
    assert_eq!(
        pk("renamenx a b"),
        ok(&["a", "b"], GenericCommand::RenameNx)
    );
    assert_eq!(e("RENAME a"), arity("rename"));
    assert_eq!(pk("DBSIZE"), ok(&[], ScanCommand::DbSize));
    assert_eq!(e("DBSIZE x"), arity("dbsize"));
    assert_eq!(pk("FLUSHDB"), ok(&[], ScanCommand::FlushDb));
    assert_eq!(pk("flushdb async"), ok(&[], ScanCommand::FlushDb));
    assert_eq!(pk("FLUSHALL SYNC"), ok(&[], ScanCommand::FlushAll));
    assert_eq!(e("FLUSHALL LAZY"), SYNTAX);
    assert_eq!(e("FLUSHDB ASYNC SYNC"), SYNTAX);
}

#[test]
fn expire_family() {
    let exp = |line: &str| match pk(line) {
        Ok((keys, Family::Generic(GenericCommand::Expire { when, condition }))) => {
            (keys[0].clone(), when, condition)
        }
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
        pk("SCAN 0"),
        ok(
            &[],
            ScanCommand::Scan(Box::new(Scan {
                cursor: 0,
                pattern: None,
                count: None,
                kind: None
            }))
        )
    );
    assert_eq!(
        pk("scan 18446744073709551615 match a* count 10 type string"),
        ok(
            &[],
            ScanCommand::Scan(Box::new(Scan {
                cursor: u64::MAX,
                pattern: Some(b("a*")),
                count: Some(10),
                kind: Some(b("string"))
            }))
        )
    );
    assert_eq!(
        pk("SCAN 5 MATCH *"),
        ok(
            &[],
            ScanCommand::Scan(Box::new(Scan {
                cursor: 5,
                pattern: None,
                count: None,
                kind: None
            }))
        )
    );
    assert_eq!(
        pk("SCAN 5 COUNT 1 COUNT 7 TYPE whatever"),
        ok(
            &[],
            ScanCommand::Scan(Box::new(Scan {
                cursor: 5,
                pattern: None,
                count: Some(7),
                kind: Some(b("whatever"))
            }))
        )
    );
    assert_eq!(e("SCAN abc"), "ERR invalid cursor");
    assert_eq!(p("SCAN -1").map(|c| c.keys().len()), Ok(0));
    assert_eq!(
        pk("SCAN -1"),
        ok(
            &[],
            ScanCommand::Scan(Box::new(Scan {
                cursor: u64::MAX,
                pattern: None,
                count: None,
                kind: None
            }))
        )
    );
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
        pk("RANGE a z"),
        ok(
            &[],
            ScanCommand::Range(Box::new(Range {
                start: Bound::Included(b("a")),
                end: Bound::Excluded(b("z")),
                limit: None,
                reverse: false,
                keys_only: false
            }))
        )
    );
    assert_eq!(
        pk("rangekeys - z rev limit 0"),
        ok(
            &[],
            ScanCommand::Range(Box::new(Range {
                start: Bound::Unbounded,
                end: Bound::Excluded(b("z")),
                limit: Some(0),
                reverse: true,
                keys_only: true
            }))
        )
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
    assert_eq!(pk("MULTI"), ok(&[], TransactionCommand::Multi));
    assert_eq!(pk("exec"), ok(&[], TransactionCommand::Exec));
    assert_eq!(pk("DISCARD"), ok(&[], TransactionCommand::Discard));
    assert_eq!(pk("UNWATCH"), ok(&[], TransactionCommand::Unwatch));
    assert_eq!(pk("WATCH a b"), ok(&["a", "b"], TransactionCommand::Watch));
    assert_eq!(e("WATCH"), arity("watch"));
    assert_eq!(e("MULTI x"), arity("multi"));
    assert_eq!(e("EXEC x"), arity("exec"));
}
