//! Replies printed exactly as redis-cli prints them: its TTY form (quoted strings,
//! `(integer) 7`, numbered nested arrays) and its `--raw` form (values as they are).

use bytes::Bytes;
use cairn::protocol::Reply;

/// redis-cli's `sdscatrepr`: a double-quoted string with C escapes for what is not
/// printable ASCII.
pub fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// A double as Redis sends it: shortest round-trip form, `inf`, `-inf`, `nan`.
pub fn double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{d}")
    }
}

/// redis-cli's TTY form of a reply (`cliFormatReplyTTY`), ending with a newline.
pub fn tty(reply: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    tty_into(&mut out, reply, "");
    out
}

fn tty_into(out: &mut Vec<u8>, reply: &Reply, prefix: &str) {
    match reply {
        Reply::Simple(s) => out.extend_from_slice(s),
        Reply::Error(s) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(s);
        }
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Reply::Bulk(s) => quote(out, s),
        Reply::Verbatim { text, .. } => out.extend_from_slice(text),
        Reply::Null | Reply::NullArray => out.extend_from_slice(b"(nil)"),
        Reply::Double(d) => out.extend_from_slice(format!("(double) {}", double(*d)).as_bytes()),
        Reply::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
        }
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) if items.is_empty() => {
            let empty: &[u8] = if matches!(reply, Reply::Set(_)) {
                b"(empty set)"
            } else {
                b"(empty array)"
            };
            out.extend_from_slice(empty);
        }
        Reply::Map(pairs) if pairs.is_empty() => out.extend_from_slice(b"(empty hash)"),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            let sep = if matches!(reply, Reply::Set(_)) {
                '~'
            } else {
                ')'
            };
            aggregate(out, prefix, items.len(), sep, |out, i, inner| {
                tty_into(out, &items[i], inner);
            });
            return;
        }
        Reply::Map(pairs) => {
            aggregate(out, prefix, pairs.len(), '#', |out, i, inner| {
                tty_into(out, &pairs[i].0, inner);
                out.pop(); // the key's newline
                out.extend_from_slice(b" => ");
                tty_into(out, &pairs[i].1, inner);
            });
            return;
        }
    }
    out.push(b'\n');
}

/// Numbered elements: the index right-aligned to the widest index, nested aggregates
/// indented by that width plus two; the first element follows its parent's number.
fn aggregate(
    out: &mut Vec<u8>,
    prefix: &str,
    n: usize,
    sep: char,
    mut element: impl FnMut(&mut Vec<u8>, usize, &str),
) {
    let width = n.to_string().len();
    let inner = format!("{prefix}{}", " ".repeat(width + 2));
    for i in 0..n {
        let lead = if i == 0 { "" } else { prefix };
        out.extend_from_slice(format!("{lead}{:>width$}{sep} ", i + 1).as_bytes());
        element(out, i, &inner);
    }
}

/// redis-cli's `--raw` form (`cliFormatReplyRaw` and the command delimiter), ending with
/// a newline.
pub fn raw(reply: &Reply) -> Vec<u8> {
    let mut out = verbatim(reply);
    out.push(b'\n');
    out
}

/// The raw form without the delimiter: how redis-cli prints replies meant to be read as
/// text (INFO, CLIENT LIST) in every mode.
pub fn verbatim(reply: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    raw_into(&mut out, reply);
    out
}

/// Commands whose reply redis-cli always prints verbatim (`cliSendCommand`).
pub fn prints_verbatim(args: &[Bytes]) -> bool {
    let is = |i: usize, s: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(s.as_bytes()))
    };
    is(0, "info")
        || is(0, "lolwut")
        || (is(0, "client") && (is(1, "list") || is(1, "info")))
        || (is(0, "memory") && (is(1, "malloc-stats") || is(1, "doctor")))
        || (is(0, "latency") && (is(1, "doctor") || is(1, "graph")))
}

fn raw_into(out: &mut Vec<u8>, reply: &Reply) {
    match reply {
        Reply::Simple(s) | Reply::Bulk(s) | Reply::BigNumber(s) => out.extend_from_slice(s),
        Reply::Error(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Reply::Verbatim { text, .. } => out.extend_from_slice(text),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Null | Reply::NullArray => {}
        Reply::Double(d) => out.extend_from_slice(double(*d).as_bytes()),
        Reply::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw_into(out, item);
            }
        }
        Reply::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw_into(out, k);
                out.push(b'\n');
                raw_into(out, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s))
    }

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(
            s(tty(&bulk(b"a\"b\\\n\x00\xff"))),
            "\"a\\\"b\\\\\\n\\x00\\xff\"\n"
        );
        assert_eq!(s(tty(&Reply::Integer(-7))), "(integer) -7\n");
        assert_eq!(s(tty(&Reply::Null)), "(nil)\n");
        assert_eq!(s(tty(&Reply::ok())), "OK\n");
        assert_eq!(s(tty(&Reply::error("ERR x"))), "(error) ERR x\n");
        assert_eq!(s(tty(&Reply::Double(1.5))), "(double) 1.5\n");
        assert_eq!(s(tty(&Reply::Boolean(true))), "(true)\n");
        assert_eq!(s(tty(&Reply::Array(vec![]))), "(empty array)\n");
    }

    #[test]
    fn nested_arrays_as_redis_cli() {
        let r = Reply::Array(vec![
            bulk(b"a"),
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![bulk(b"x"), bulk(b"y")]),
            ]),
            Reply::Null,
        ]);
        assert_eq!(
            s(tty(&r)),
            "1) \"a\"\n2) 1) (integer) 1\n   2) 1) \"x\"\n      2) \"y\"\n3) (nil)\n"
        );
        let ten = Reply::Array((0..10).map(Reply::Integer).collect());
        let out = s(tty(&Reply::Array(vec![ten])));
        assert!(
            out.starts_with("1)  1) (integer) 0\n    2) (integer) 1\n"),
            "{out}"
        );
        assert!(out.ends_with("   10) (integer) 9\n"), "{out}");
        let map = Reply::Map(vec![
            (bulk(b"k"), bulk(b"v")),
            (bulk(b"n"), Reply::Integer(2)),
        ]);
        assert_eq!(s(tty(&map)), "1# \"k\" => \"v\"\n2# \"n\" => (integer) 2\n");
        assert_eq!(s(raw(&map)), "k\nv\nn\n2\n");
    }
}
