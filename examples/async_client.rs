//! The async client in a few lines: `cargo run --example async_client [host:port]`
//! against a running `cairn-server`.

use cairn::client::{Batch, Client, SetCondition, SetOptions};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7379".into());
    let client = Client::connect(&addr).await?;

    client.set("user:1", "ada").await?;
    let name = client.get("user:1").await?;
    println!(
        "user:1 = {:?}",
        name.as_deref().map(String::from_utf8_lossy)
    );

    // Compare-and-set on the version read.
    // Another client may have deleted it since.
    let Some(current) = client.get_versioned("user:1").await? else {
        println!("user:1 is gone already");
        return Ok(());
    };
    let only_if_unchanged = SetOptions {
        condition: SetCondition::IfVersionEquals(current.version),
        ..SetOptions::default()
    };
    let written = client
        .set_with("user:1", "ada lovelace", only_if_unchanged)
        .await?;
    println!("compare-and-set written: {written}");

    // Atomic batch, then an ordered, streamed range.
    let mut batch = Batch::new();
    batch.put("user:2", "grace").put("user:3", "edsger");
    client.batch(batch).await?;
    let mut users = client.range("user:".."user;").await?;
    while let Some((key, value)) = users.try_next().await? {
        println!(
            "{} = {}",
            String::from_utf8_lossy(&key),
            String::from_utf8_lossy(&value)
        );
    }

    // Clones share one pipelined connection.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.incr_by("visits", 1).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    println!("visits = {:?}", client.command(["GET", "visits"]).await?);
    Ok(())
}
