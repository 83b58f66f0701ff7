//! The bitmap commands' arguments: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! `BITFIELD_RO`, parsed as Redis 7.0's `bitops.c` parses them, error for error and in the
//! same order. A bitmap is a string value; `server/commands/strings/bits.rs` runs them.
//!
//! Redis 7.0 looks the key up before it reads BITCOUNT's and BITPOS's range, so on a
//! missing key a bad range is no error at all (the reply is 0, or BITPOS's answer for an
//! empty bitmap). Those ranges therefore parse to a `Result` that the server reports only
//! when the key exists, as GETEX's expiry does ([`GetExExpiry::Invalid`]).
//!
//! [`GetExExpiry::Invalid`]: super::GetExExpiry::Invalid

use super::StringCommand;
use crate::protocol::command::args::{int, is, next, parse_i64, Args};
use crate::protocol::command::{CommandError, MAX_STRING_LEN};

/// The unit of a BITCOUNT or BITPOS range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitUnit {
    /// BYTE (the default): start and end index bytes.
    Byte,
    /// BIT: start and end index bits, bit 0 the most significant of the first byte.
    Bit,
}

/// The range of BITCOUNT (`start end [BYTE|BIT]`) or BITPOS (`start [end [BYTE|BIT]]`):
/// both ends inclusive, negative ones counted from the end, as GETRANGE's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index.
    pub start: i64,
    /// Last index; `None` (BITPOS only) runs to the end of the string, which then counts
    /// as followed by zero bits.
    pub end: Option<i64>,
    /// What the indexes count.
    pub unit: BitUnit,
}

/// A range argument that Redis checks only once it has found the key (see the module
/// comment): `Ok(None)` for no range, the error otherwise.
pub type DeferredRange = Result<Option<BitRange>, CommandError>;

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOperation {
    /// AND of every source; a shorter source counts as zero-padded.
    And,
    /// OR of every source.
    Or,
    /// XOR of every source.
    Xor,
    /// NOT of the one source.
    Not,
}

/// A BITFIELD field's type: `i1`..`i64` or `u1`..`u63` (a u64 could not be replied as a
/// RESP integer, so Redis refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitFieldType {
    /// `i`: two's complement; `u`: unsigned.
    pub signed: bool,
    /// Width in bits: 1 to 64 signed, 1 to 63 unsigned.
    pub bits: u8,
}

/// What BITFIELD does when SET or INCRBY leaves a field's range (OVERFLOW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// WRAP (the default): modulo the width, as C integers wrap.
    Wrap,
    /// SAT: stop at the smallest or largest value.
    Sat,
    /// FAIL: leave the field alone and reply nil for that operation.
    Fail,
}

/// One operation of BITFIELD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitFieldAction {
    /// GET: reply with the field.
    Get,
    /// SET value: store it, reply with the old value.
    Set(i64),
    /// INCRBY increment: add it, reply with the new value.
    IncrBy(i64),
}

/// One GET, SET or INCRBY of a BITFIELD, with the OVERFLOW in force where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitFieldOp {
    /// What to do.
    pub action: BitFieldAction,
    /// The field's type.
    pub field: BitFieldType,
    /// The field's first bit; `#n` was already multiplied by the width. Below 2^32.
    pub offset: u64,
    /// The OVERFLOW given last before this operation (WRAP if none).
    pub overflow: Overflow,
}

impl BitFieldOp {
    /// Whether the operation writes (SET, INCRBY).
    pub fn writes(&self) -> bool {
        !matches!(self.action, BitFieldAction::Get)
    }
}

const BAD_OFFSET: CommandError =
    CommandError::Invalid("ERR bit offset is not an integer or out of range");
const BAD_BIT: CommandError = CommandError::Invalid("ERR bit is not an integer or out of range");
const BAD_TYPE: CommandError = CommandError::Invalid(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/// A bit offset as Redis's `getBitOffsetFromArgument` reads it: a non-negative integer
/// whose byte lies within proto-max-bulk-len (so at most 2^32 - 1), or, for BITFIELD
/// (`width` given), `#n`: the n-th field of that width.
fn bit_offset(arg: &[u8], width: Option<u8>) -> Result<u64, CommandError> {
    let (digits, multiplier) = match (arg.strip_prefix(b"#"), width) {
        (Some(digits), Some(bits)) => (digits, Some(bits)),
        _ => (arg, None),
    };
    let mut offset = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if let Some(bits) = multiplier {
        // Redis multiplies in C `long long` and checks the product afterwards, so a
        // product past 2^63 wraps (`#2305843009213693952` of u8 is offset 0 there); a
        // wrapping multiply gives the same answers.
        offset = offset.wrapping_mul(i64::from(bits));
    }
    let offset = u64::try_from(offset).map_err(|_| BAD_OFFSET)?;
    if offset >> 3 >= MAX_STRING_LEN as u64 {
        return Err(BAD_OFFSET);
    }
    Ok(offset)
}

/// `BYTE` or `BIT`, case-insensitive.
fn unit(arg: &[u8]) -> Result<BitUnit, CommandError> {
    if is(arg, "BYTE") {
        Ok(BitUnit::Byte)
    } else if is(arg, "BIT") {
        Ok(BitUnit::Bit)
    } else {
        Err(CommandError::Syntax)
    }
}

/// `SETBIT key offset value`.
pub(super) fn setbit(args: &mut Args) -> Result<StringCommand, CommandError> {
    let offset = bit_offset(&next(args)?, None)?;
    let value = match parse_i64(&next(args)?) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BAD_BIT),
    };
    Ok(StringCommand::SetBit { offset, value })
}

/// `GETBIT key offset`.
pub(super) fn getbit(args: &mut Args) -> Result<StringCommand, CommandError> {
    let offset = bit_offset(&next(args)?, None)?;
    Ok(StringCommand::GetBit { offset })
}

/// `BITCOUNT key [start end [BYTE|BIT]]`; its range is checked only if the key exists
/// (see the module).
pub(super) fn bitcount(args: &mut Args) -> StringCommand {
    StringCommand::BitCount {
        range: count_range(args),
    }
}

/// BITCOUNT's range: start, end, then the unit, as Redis checks them; any other count of
/// arguments is a syntax error.
fn count_range(args: &mut Args) -> DeferredRange {
    if !matches!(args.len(), 0 | 2 | 3) {
        return Err(CommandError::Syntax);
    }
    let Some(start) = args.next() else {
        return Ok(None);
    };
    let start = int(&start)?;
    let end = int(&next(args)?)?;
    // Two negative indexes the wrong way round: Redis 7.0 answers 0 before it reads the
    // unit, so a bad one is no error then (and in either unit the range is empty).
    let unit = match args.next() {
        Some(_) if start < 0 && end < 0 && start > end => BitUnit::Byte,
        Some(u) => unit(&u)?,
        None => BitUnit::Byte,
    };
    Ok(Some(BitRange {
        start,
        end: Some(end),
        unit,
    }))
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`. The bit is checked at once, the range only
/// if the key exists (see the module).
pub(super) fn bitpos(args: &mut Args) -> Result<StringCommand, CommandError> {
    let bit = match int(&next(args)?)? {
        0 => false,
        1 => true,
        _ => {
            return Err(CommandError::Invalid(
                "ERR The bit argument must be 1 or 0.",
            ))
        }
    };
    Ok(StringCommand::BitPos {
        bit,
        range: pos_range(args),
    })
}

/// BITPOS's range: start, then the unit, then end (Redis's order); more than three
/// arguments are a syntax error.
fn pos_range(args: &mut Args) -> DeferredRange {
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let (Some(start), end, unit_arg) = (args.next(), args.next(), args.next()) else {
        return Ok(None);
    };
    let start = int(&start)?;
    let unit = unit_arg.map_or(Ok(BitUnit::Byte), |u| unit(&u))?;
    let end = end.map(|e| int(&e)).transpose()?;
    Ok(Some(BitRange { start, end, unit }))
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`; the row took the keys out.
pub(super) fn bitop(args: &mut Args) -> Result<StringCommand, CommandError> {
    let name = next(args)?;
    let op = if is(&name, "AND") {
        BitOperation::And
    } else if is(&name, "OR") {
        BitOperation::Or
    } else if is(&name, "XOR") {
        BitOperation::Xor
    } else if is(&name, "NOT") {
        BitOperation::Not
    } else {
        return Err(CommandError::Syntax);
    };
    // BITOP NOT destkey key: four arguments in all.
    if op == BitOperation::Not && args.argc() != 4 {
        return Err(CommandError::Invalid(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    Ok(StringCommand::BitOp { op })
}

/// A field type, `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Result<BitFieldType, CommandError> {
    let (signed, width) = match arg.split_first() {
        Some((b'i', width)) => (true, width),
        Some((b'u', width)) => (false, width),
        _ => return Err(BAD_TYPE),
    };
    let max = if signed { 64 } else { 63 };
    match parse_i64(width) {
        Some(bits @ 1..=64) if bits <= max => Ok(BitFieldType {
            signed,
            bits: u8::try_from(bits).map_err(|_| BAD_TYPE)?,
        }),
        _ => Err(BAD_TYPE),
    }
}

/// `BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment
/// | OVERFLOW WRAP|SAT|FAIL] ...`, and `BITFIELD_RO` (`read_only`), which takes GETs only.
/// As Redis: an operation short of arguments is a syntax error, then the type, the
/// offset and the value are checked in that order, and `BITFIELD_RO`'s refusal of a write
/// comes only after every operation parsed.
fn bitfield_ops(args: &mut Args, read_only: bool) -> Result<StringCommand, CommandError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    while let Some(sub) = args.next() {
        let left = args.len();
        let kind = if is(&sub, "GET") && left >= 2 {
            BitFieldAction::Get
        } else if is(&sub, "SET") && left >= 3 {
            BitFieldAction::Set(0)
        } else if is(&sub, "INCRBY") && left >= 3 {
            BitFieldAction::IncrBy(0)
        } else if is(&sub, "OVERFLOW") && left >= 1 {
            let name = next(args)?;
            overflow = if is(&name, "WRAP") {
                Overflow::Wrap
            } else if is(&name, "SAT") {
                Overflow::Sat
            } else if is(&name, "FAIL") {
                Overflow::Fail
            } else {
                return Err(CommandError::Invalid("ERR Invalid OVERFLOW type specified"));
            };
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        let field = field_type(&next(args)?)?;
        let offset = bit_offset(&next(args)?, Some(field.bits))?;
        let action = match kind {
            BitFieldAction::Get => BitFieldAction::Get,
            BitFieldAction::Set(_) => BitFieldAction::Set(int(&next(args)?)?),
            BitFieldAction::IncrBy(_) => BitFieldAction::IncrBy(int(&next(args)?)?),
        };
        ops.push(BitFieldOp {
            action,
            field,
            offset,
            overflow,
        });
    }
    if read_only && ops.iter().any(BitFieldOp::writes) {
        return Err(CommandError::Invalid(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(StringCommand::BitField { ops })
}

/// `BITFIELD key ...`.
pub(super) fn bitfield(args: &mut Args) -> Result<StringCommand, CommandError> {
    bitfield_ops(args, false)
}

/// `BITFIELD_RO key [GET type offset ...]`.
pub(super) fn bitfield_ro(args: &mut Args) -> Result<StringCommand, CommandError> {
    bitfield_ops(args, true)
}
