//! Client-side validation: what a request may carry, checked before anything is sent.
//!
//! It owns the checks of sizes against the protocol limits and of durations against what
//! the wire can say; a refused request is an `Error::InvalidInput` and never reaches the
//! connection.

use std::ops::Bound;
use std::time::Duration;

use bytes::Bytes;

use super::{Error, Result};
use crate::protocol::binary::{self, Condition, Op};
use crate::protocol::Limits;

/// Whole milliseconds of a TTL, at least 1.
pub(super) fn millis(d: Duration) -> Result<u64> {
    let ms = u64::try_from(d.as_millis())
        .map_err(|_| Error::invalid(format!("expiry {d:?} is too long")))?;
    if ms == 0 {
        return Err(Error::invalid("an expiry must be at least 1 ms"));
    }
    if ms > i64::MAX as u64 {
        return Err(Error::invalid(format!("expiry {d:?} is too long")));
    }
    Ok(ms)
}

/// Checks `op` against the protocol limits before anything is sent.
pub(super) fn validate(op: &Op, limits: &Limits) -> Result<()> {
    let check = |what: &str, b: &[u8]| {
        if b.len() > limits.max_bulk_len {
            Err(Error::invalid(format!(
                "{what} of {} bytes is over the limit of {} bytes",
                b.len(),
                limits.max_bulk_len
            )))
        } else {
            Ok(b.len() + 5)
        }
    };
    let count = |what: &str, n: usize| {
        if n > limits.max_array_len {
            Err(Error::invalid(format!(
                "{what}: {n} is over the limit of {}",
                limits.max_array_len
            )))
        } else {
            Ok(())
        }
    };
    let bound = |b: &Bound<Bytes>| match b {
        Bound::Included(k) | Bound::Excluded(k) => check("range bound", k),
        Bound::Unbounded => Ok(1),
    };
    let body = match op {
        Op::Get { key } | Op::GetVersioned { key } | Op::Delete { key } => check("key", key)?,
        Op::Set {
            key,
            value,
            condition,
            ..
        } => {
            let c = match condition {
                Condition::IfValueEquals(v) => check("compared value", v)?,
                _ => 9,
            };
            check("key", key)? + check("value", value)? + c + 9
        }
        Op::IncrBy { key, .. } | Op::Expire { key, .. } => check("key", key)? + 8,
        Op::Batch { ops } => {
            count("batch operations", ops.len())?;
            let mut n = 4;
            for op in ops {
                n += match op {
                    binary::BatchOp::Put { key, value } => {
                        1 + check("key", key)? + check("value", value)?
                    }
                    binary::BatchOp::Delete { key } => 1 + check("key", key)?,
                };
            }
            n
        }
        Op::Range { start, end, .. } => bound(start)? + bound(end)? + 10,
        Op::Ping => 0,
        Op::Auth { username, password } => {
            let short = |what: &str, b: &[u8]| {
                if b.len() > usize::from(u16::MAX) {
                    Err(Error::invalid(format!("{what} longer than 65,535 bytes")))
                } else {
                    Ok(b.len() + 5)
                }
            };
            username
                .as_deref()
                .map_or(Ok(1), |u| short("username", u))?
                + short("password", password)?
        }
        Op::Resp { args } => {
            count("command arguments", args.len())?;
            let mut n = 4;
            for a in args {
                n += check("argument", a)?;
            }
            n
        }
    };
    if body > limits.max_frame_len {
        return Err(Error::invalid(format!(
            "request of {body} bytes is over the frame limit of {} bytes",
            limits.max_frame_len
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_refuses_oversized_input() {
        let limits = Limits {
            max_bulk_len: 10,
            max_frame_len: 30,
            max_array_len: 2,
            ..Limits::default()
        };
        let get = |k: &[u8]| Op::Get {
            key: Bytes::copy_from_slice(k),
        };
        assert!(validate(&get(&[0; 10]), &limits).is_ok());
        assert!(matches!(
            validate(&get(&[0; 11]), &limits),
            Err(Error::InvalidInput { .. })
        ));
        let set = Op::Set {
            key: Bytes::from_static(&[0; 10]),
            value: Bytes::from_static(&[0; 10]),
            condition: Condition::None,
            expiry_ms: None,
        };
        // each within the bulk limit, together over the frame limit
        assert!(matches!(
            validate(&set, &limits),
            Err(Error::InvalidInput { .. })
        ));
        let resp = Op::Resp {
            args: vec![Bytes::new(); 3],
        };
        assert!(validate(&resp, &limits).is_err());
    }

    #[test]
    fn expiry_in_millis() {
        assert_eq!(millis(Duration::from_millis(1500)).ok(), Some(1500));
        assert!(millis(Duration::from_micros(10)).is_err());
        assert!(millis(Duration::MAX).is_err());
    }
}
