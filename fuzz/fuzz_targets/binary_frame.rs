//! Native binary parsers on arbitrary bytes: request frames, response frames and the
//! handshake. Parse until incomplete or an error; whatever parses must survive
//! encode-then-parse unchanged.
#![no_main]

use bytes::BytesMut;
use cairn::protocol::binary::{
    encode_handshake, encode_request, encode_response, parse_handshake, parse_request,
    parse_response,
};
use cairn::protocol::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_frame_len: 4096,
        max_array_len: 64,
        ..Limits::default()
    };
    let mut buf = BytesMut::from(data);
    match mode % 3 {
        0 => {
            while let Ok(Some(req)) = parse_request(&mut buf, &limits) {
                let mut out = BytesMut::new();
                encode_request(&req, &mut out);
                assert_eq!(parse_request(&mut out, &limits), Ok(Some(req)));
                assert!(out.is_empty());
            }
        }
        1 => {
            while let Ok(Some(resp)) = parse_response(&mut buf, &limits) {
                let mut out = BytesMut::new();
                encode_response(&resp, &mut out);
                // Debug text, so that a NaN compares equal to itself.
                let again = parse_response(&mut out, &limits);
                assert_eq!(format!("{again:?}"), format!("{:?}", Ok::<_, ()>(Some(resp))));
                assert!(out.is_empty());
            }
        }
        _ => {
            if let Ok(Some(hs)) = parse_handshake(&mut buf, &limits) {
                let mut out = BytesMut::new();
                encode_handshake(&hs, &mut out);
                assert_eq!(parse_handshake(&mut out, &limits), Ok(Some(hs)));
            }
        }
    }
});
