//! The client as the README shows it (tests/readme.rs keeps the two identical):
//! `cargo run --release --example readme` against a running `cairn-server`.

use cairn::client::{Batch, Client};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> cairn::client::Result<()> {
    let client = Client::connect("127.0.0.1:7379").await?; // clones share one pipelined connection
    client.set("user:1", "ada").await?;
    println!("{:?}", client.get("user:1").await?); // Some(b"ada")
    let mut batch = Batch::new(); // atomic: all or nothing, even across a crash
    batch.put("user:2", "grace").delete("user:0");
    client.batch(batch).await?;
    let users: Vec<_> = client.range("user:".."user;").await?.try_collect().await?;
    println!("{users:?}"); // [(b"user:1", b"ada"), (b"user:2", b"grace")]
    Ok(())
}
