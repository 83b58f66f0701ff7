//! RESP request parser on arbitrary bytes: parse until incomplete or an error, and check
//! that feeding the same bytes in chunks gives the same requests and the same end.
#![no_main]

use bytes::{Bytes, BytesMut};
use cairn::protocol::resp::parse_request;
use cairn::protocol::{Limits, ProtocolError};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>, usize);

fn limits() -> Limits {
    // Small limits so the fuzzer reaches them.
    Limits {
        max_bulk_len: 1024,
        max_array_len: 64,
        max_inline_len: 256,
        ..Limits::default()
    }
}

/// Parse everything from a buffer fed `chunk` bytes at a time.
fn run(data: &[u8], chunk: usize) -> Outcome {
    let limits = limits();
    let mut buf = BytesMut::new();
    let mut reqs = Vec::new();
    let mut fed = 0;
    loop {
        match parse_request(&mut buf, &limits) {
            Ok(Some(args)) => reqs.push(args),
            Ok(None) => {
                if fed == data.len() {
                    return (reqs, None, buf.len());
                }
                let end = (fed + chunk).min(data.len());
                buf.extend_from_slice(&data[fed..end]);
                fed = end;
            }
            Err(e) => return (reqs, Some(e), buf.len()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, data)) = data.split_first() else {
        return;
    };
    let whole = run(data, data.len().max(1));
    let chunked = run(data, usize::from(c % 16) + 1);
    // An error ends parsing, so the leftover length may differ; the requests and the
    // error may not.
    assert_eq!(whole.0, chunked.0);
    assert_eq!(whole.1, chunked.1);
    if whole.1.is_none() {
        assert_eq!(whole.2, chunked.2);
    }
});
