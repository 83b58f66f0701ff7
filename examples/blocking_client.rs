//! The blocking client, for code without an async runtime:
//! `cargo run --example blocking_client [host:port]` against a running `cairn-server`.

use std::time::Duration;

use cairn::client::blocking::Client;
use cairn::client::{Error, SetCondition, SetOptions};

fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7379".into());
    let client = Client::connect(&addr)?;

    client.set("greeting", "hello")?;
    println!("greeting = {:?}", client.get("greeting")?);

    // Written only if absent, expiring in a minute.
    let lock = SetOptions {
        condition: SetCondition::IfAbsent,
        expiry: Some(Duration::from_secs(60)),
    };
    println!("lock taken: {}", client.set_with("lock", "me", lock)?);

    for pair in client.range("a".."z")? {
        let (key, value) = pair?;
        println!(
            "{} = {}",
            String::from_utf8_lossy(&key),
            String::from_utf8_lossy(&value)
        );
    }

    match client.incr_by("greeting", 1) {
        Err(Error::Server { message }) => println!("refused as expected: {message}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
