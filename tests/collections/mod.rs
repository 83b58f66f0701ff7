//! What the hash and set differential tests share: tests/common/raw.rs's connection with
//! each reply parsed, a seeded generator, and the comparison of two servers' replies exactly,
//! or with their order ignored where Redis leaves it unspecified.

#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use cairn::protocol::resp::parse_reply;
use cairn::protocol::{Limits, Reply};

/// A connection that sends one request and returns its reply, parsed: the shared raw
/// connection's bytes, decoded.
pub struct Raw(crate::common::raw::Raw);

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        Raw(crate::common::raw::Raw::connect(addr))
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Reply {
        let mut bytes = BytesMut::from(&self.0.call(args)[..]);
        parse_reply(&mut bytes, &Limits::default())
            .expect("a reply")
            .expect("a whole reply")
    }
}

pub use crate::common::random::Random;

/// A request from words.
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// The reply with every array, set and map sorted (recursively), for replies whose
/// order Redis leaves unspecified.
pub fn sorted(reply: Reply) -> Reply {
    match reply {
        Reply::Array(items) => {
            let mut items: Vec<Reply> = items.into_iter().map(sorted).collect();
            items.sort_by_key(|item| format!("{item:?}"));
            Reply::Array(items)
        }
        Reply::Set(items) => {
            let mut items: Vec<Reply> = items.into_iter().map(sorted).collect();
            items.sort_by_key(|item| format!("{item:?}"));
            Reply::Set(items)
        }
        Reply::Map(pairs) => {
            let mut pairs: Vec<(Reply, Reply)> = pairs.into_iter().collect();
            pairs.sort_by_key(|(k, _)| format!("{k:?}"));
            Reply::Map(pairs)
        }
        other => other,
    }
}

/// An xSCAN reply's items, sorted (cursor aside), `None` for another reply.
pub fn scan_items(reply: &Reply) -> Option<Vec<Bytes>> {
    let Reply::Array(parts) = reply else {
        return None;
    };
    let [Reply::Bulk(_), Reply::Array(items)] = parts.as_slice() else {
        return None;
    };
    let mut out: Vec<Bytes> = items
        .iter()
        .filter_map(|item| match item {
            Reply::Bulk(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    Some(out)
}

/// The bulk strings of an array or set reply (a RESP3 pair array flattened).
pub fn bulks(reply: &Reply) -> Vec<Bytes> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items.iter().flat_map(bulks).collect(),
        Reply::Bulk(b) => vec![b.clone()],
        _ => Vec::new(),
    }
}

/// Both servers, and the disagreements found so far.
pub struct Pair {
    pub ours: Raw,
    pub theirs: Raw,
    pub failures: Vec<String>,
}

impl Pair {
    pub fn new(ours: &str, theirs: &str) -> Pair {
        Pair {
            ours: Raw::connect(ours),
            theirs: Raw::connect(theirs),
            failures: Vec::new(),
        }
    }

    /// Sends `args` to both; replies must be equal (after `normalize`).
    pub fn compare(&mut self, args: &[Vec<u8>], normalize: fn(Reply) -> Reply) -> (Reply, Reply) {
        let (a, b) = (self.ours.call(args), self.theirs.call(args));
        let (na, nb) = (normalize(a.clone()), normalize(b.clone()));
        if na != nb {
            self.fail(args, &na, &nb);
        }
        (a, b)
    }

    pub fn same(&mut self, args: &[Vec<u8>]) -> (Reply, Reply) {
        self.compare(args, |r| r)
    }

    pub fn unordered(&mut self, args: &[Vec<u8>]) -> (Reply, Reply) {
        self.compare(args, sorted)
    }

    pub fn fail(&mut self, args: &[Vec<u8>], ours: &Reply, theirs: &Reply) {
        let request: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        self.failures.push(format!(
            "{}: cairn {ours:?}, redis {theirs:?}",
            request.join(" ")
        ));
    }

    pub fn check(&self) {
        assert!(
            self.failures.is_empty(),
            "{} disagreements:\n{}",
            self.failures.len(),
            self.failures[..self.failures.len().min(30)].join("\n")
        );
    }
}
