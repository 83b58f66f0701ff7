//! Inline command lines: any line parses to arguments or to an error, never waits; and
//! re-quoting the arguments (double quotes, every byte as \xHH) parses back to them.
#![no_main]

use bytes::BytesMut;
use cairn::protocol::resp::parse_request;
use cairn::protocol::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    // One line: no '\n' inside, and not a RESP array.
    let mut line: Vec<u8> = data.iter().copied().filter(|&b| b != b'\n').collect();
    if line.first() == Some(&b'*') {
        line[0] = b' ';
    }
    line.extend_from_slice(b"\r\n");
    let mut buf = BytesMut::from(&line[..]);
    let args = match parse_request(&mut buf, &limits) {
        Ok(Some(args)) => args,
        Ok(None) => panic!("a complete line must not wait for more bytes"),
        Err(_) => return,
    };
    assert!(buf.is_empty(), "the whole line is consumed");
    let mut quoted = Vec::new();
    for a in &args {
        quoted.push(b'"');
        for b in a.iter() {
            quoted.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        quoted.extend_from_slice(b"\" ");
    }
    quoted.extend_from_slice(b"\r\n");
    if quoted.len() > limits.max_inline_len {
        return;
    }
    let again = parse_request(&mut BytesMut::from(&quoted[..]), &limits);
    assert_eq!(again, Ok(Some(args)));
});
