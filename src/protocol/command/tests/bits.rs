//! Parse tests of the bitmap commands: their forms, their deferred ranges, and every error
//! text, in the order Redis 7.0 checks them.

use super::*;

const OFFSET: &str = "ERR bit offset is not an integer or out of range";
const TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn strings(line: &str) -> StringCommand {
    match f(line) {
        Ok(Family::Strings(command)) => command,
        other => panic!("{line:?}: {other:?}"),
    }
}

#[test]
fn setbit_and_getbit() {
    assert_eq!(
        pk("SETBIT k 7 1"),
        ok(
            &["k"],
            StringCommand::SetBit {
                offset: 7,
                value: true
            }
        )
    );
    assert_eq!(
        strings("setbit k 4294967295 0"),
        StringCommand::SetBit {
            offset: u64::from(u32::MAX),
            value: false
        }
    );
    assert_eq!(strings("GETBIT k 0"), StringCommand::GetBit { offset: 0 });
    for bad in ["-1", "4294967296", "x", "01", "#1", ""] {
        assert_eq!(e(&format!("SETBIT k {bad} 1")), OFFSET, "{bad}");
        assert_eq!(e(&format!("GETBIT k {bad}")), OFFSET, "{bad}");
    }
    for bad in ["2", "-1", "x", "01", ""] {
        assert_eq!(
            e(&format!("SETBIT k 1 {bad}")),
            "ERR bit is not an integer or out of range"
        );
    }
    // The offset is checked first.
    assert_eq!(e("SETBIT k x 2"), OFFSET);
    assert_eq!(e("SETBIT k 1"), arity("setbit"));
    assert_eq!(e("GETBIT k"), arity("getbit"));
}

#[test]
fn bitcount_ranges_wait_for_the_key() {
    let range = |line: &str| match strings(line) {
        StringCommand::BitCount { range } => range,
        other => panic!("{line:?}: {other:?}"),
    };
    assert_eq!(range("BITCOUNT k"), Ok(None));
    let r = |start, end, unit| {
        Ok(Some(BitRange {
            start,
            end: Some(end),
            unit,
        }))
    };
    assert_eq!(range("BITCOUNT k 1 -2"), r(1, -2, BitUnit::Byte));
    assert_eq!(range("BITCOUNT k 1 -2 bit"), r(1, -2, BitUnit::Bit));
    assert_eq!(range("BITCOUNT k 1 -2 BYTE"), r(1, -2, BitUnit::Byte));
    assert_eq!(range("BITCOUNT k 1"), Err(CommandError::Syntax));
    assert_eq!(range("BITCOUNT k 1 2 BIT x"), Err(CommandError::Syntax));
    assert_eq!(range("BITCOUNT k x 2 FOO"), Err(CommandError::NotInteger));
    assert_eq!(range("BITCOUNT k 1 2 FOO"), Err(CommandError::Syntax));
    // Crossed negative indexes answer 0 before the unit is read.
    assert_eq!(range("BITCOUNT k -1 -5 FOO"), r(-1, -5, BitUnit::Byte));
    assert_eq!(e("BITCOUNT"), arity("bitcount"));
}

#[test]
fn bitpos_checks_the_bit_at_once_and_the_range_later() {
    let parsed = |line: &str| match strings(line) {
        StringCommand::BitPos { bit, range } => (bit, range),
        other => panic!("{line:?}: {other:?}"),
    };
    assert_eq!(parsed("BITPOS k 0"), (false, Ok(None)));
    let r = |start, end, unit| Ok(Some(BitRange { start, end, unit }));
    assert_eq!(parsed("BITPOS k 1 2"), (true, r(2, None, BitUnit::Byte)));
    assert_eq!(
        parsed("BITPOS k 1 2 -1"),
        (true, r(2, Some(-1), BitUnit::Byte))
    );
    assert_eq!(
        parsed("bitpos k 0 2 9 bit"),
        (false, r(2, Some(9), BitUnit::Bit))
    );
    // Start, then the unit, then end.
    assert_eq!(parsed("BITPOS k 1 2 x FOO").1, Err(CommandError::Syntax));
    assert_eq!(
        parsed("BITPOS k 1 x 1 FOO").1,
        Err(CommandError::NotInteger)
    );
    assert_eq!(
        parsed("BITPOS k 1 1 x BIT").1,
        Err(CommandError::NotInteger)
    );
    assert_eq!(parsed("BITPOS k 1 1 2 BIT x").1, Err(CommandError::Syntax));
    assert_eq!(e("BITPOS k 2"), "ERR The bit argument must be 1 or 0.");
    assert_eq!(e("BITPOS k x"), NOT_INT);
    assert_eq!(e("BITPOS k"), arity("bitpos"));
}

#[test]
fn bitop_takes_the_destination_then_the_sources() {
    assert_eq!(
        pk("BITOP and d a b c"),
        ok(
            &["d", "a", "b", "c"],
            StringCommand::BitOp {
                op: BitOperation::And
            }
        )
    );
    assert_eq!(
        pk("BITOP NOT d a"),
        ok(
            &["d", "a"],
            StringCommand::BitOp {
                op: BitOperation::Not
            }
        )
    );
    assert_eq!(
        e("BITOP NOT d a b"),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(e("BITOP NAND d a"), SYNTAX);
    assert_eq!(e("BITOP AND d"), arity("bitop"));
    assert_eq!(
        keys_of_request(&"BITOP OR d a b".split(' ').map(b).collect::<Vec<_>>()),
        Ok(vec![b("d"), b("a"), b("b")])
    );
}

#[test]
fn bitfield_operations() {
    let ops = |line: &str| match strings(line) {
        StringCommand::BitField { ops } => ops,
        other => panic!("{line:?}: {other:?}"),
    };
    let op = |action, signed, bits, offset, overflow| BitFieldOp {
        action,
        field: BitFieldType { signed, bits },
        offset,
        overflow,
    };
    assert_eq!(ops("BITFIELD k"), vec![]);
    assert_eq!(
        ops("BITFIELD k GET u8 #2 overflow sat SET i64 3 -5 OVERFLOW FAIL incrby u63 #1 7"),
        vec![
            op(BitFieldAction::Get, false, 8, 16, Overflow::Wrap),
            op(BitFieldAction::Set(-5), true, 64, 3, Overflow::Sat),
            op(BitFieldAction::IncrBy(7), false, 63, 63, Overflow::Fail),
        ]
    );
    // `#n` times the width wraps as Redis's C multiplication does: 2^61 * 8 is 0.
    assert_eq!(
        ops("BITFIELD k GET u8 #2305843009213693952"),
        vec![op(BitFieldAction::Get, false, 8, 0, Overflow::Wrap)]
    );
    assert_eq!(ops("BITFIELD k GET u8 4294967295")[0].offset, 4_294_967_295);
    for bad in ["u64", "i65", "u0", "i0", "x8", "i", "", "U8", "i-1", "i08"] {
        assert_eq!(e(&format!("BITFIELD k GET {bad} 0")), TYPE, "{bad}");
    }
    for bad in ["-1", "#-1", "x", "4294967296", "#536870912", "#"] {
        assert_eq!(e(&format!("BITFIELD k GET u8 {bad}")), OFFSET, "{bad}");
    }
    assert_eq!(e("BITFIELD k GET u8"), SYNTAX);
    assert_eq!(e("BITFIELD k SET u8 0"), SYNTAX);
    assert_eq!(e("BITFIELD k FOO"), SYNTAX);
    assert_eq!(e("BITFIELD k OVERFLOW"), SYNTAX);
    assert_eq!(
        e("BITFIELD k OVERFLOW NONE"),
        "ERR Invalid OVERFLOW type specified"
    );
    assert_eq!(e("BITFIELD k SET u8 0 x"), NOT_INT);
    // The type before the offset, the offset before the value.
    assert_eq!(e("BITFIELD k SET u64 x x"), TYPE);
    assert_eq!(e("BITFIELD k SET u8 x x"), OFFSET);
    assert_eq!(e("BITFIELD"), arity("bitfield"));
}

#[test]
fn bitfield_ro_takes_gets_only() {
    assert!(matches!(
        strings("BITFIELD_RO k GET u8 0 GET i4 #3"),
        StringCommand::BitField { ops } if ops.len() == 2
    ));
    let ro = "ERR BITFIELD_RO only supports the GET subcommand";
    assert_eq!(e("BITFIELD_RO k SET u8 0 1"), ro);
    assert_eq!(e("BITFIELD_RO k GET u8 0 INCRBY u8 0 1"), ro);
    // Only once everything parsed: a bad value or a short operation comes first.
    assert_eq!(e("BITFIELD_RO k SET u8 0 x"), NOT_INT);
    assert_eq!(e("BITFIELD_RO k SET u8 0 1 GET"), SYNTAX);
    assert_eq!(e("bitfield_ro"), arity("bitfield_ro"));
}
