//! The stream of a range's pairs, fed chunk by chunk by the connection's reader.
//!
//! It owns turning response chunks (maps of pairs, or an error) into items, the per-chunk
//! timeout, and giving up the request when dropped early; it never sends anything.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::connection::{Chunk, Connection};
use super::{unexpected, Error, Result};
use crate::protocol::Reply;

/// The pairs of a range, in order, as a [`Stream`] fed by the server's chunks.
///
/// Chunks are buffered as they arrive, so a consumer slower than the network holds the
/// rest of the range in memory: bound large scans with [`RangeOptions::limit`](super::RangeOptions::limit). Dropping
/// the stream early discards the chunks still to come.
pub struct RangeStream {
    pub(super) rx: mpsc::UnboundedReceiver<Result<Chunk>>,
    pub(super) buffered: std::vec::IntoIter<(Reply, Reply)>,
    pub(super) done: bool,
    pub(super) conn: Arc<Connection>,
    pub(super) id: u64,
    pub(super) timeout: Option<Duration>,
    pub(super) sleep: Option<Pin<Box<Sleep>>>,
}

impl std::fmt::Debug for RangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeStream")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RangeStream {
    fn finish(&mut self, error: Error) -> Poll<Option<Result<(Bytes, Bytes)>>> {
        self.done = true;
        self.conn.forget(self.id);
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for RangeStream {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some((k, v)) = this.buffered.next() {
                return Poll::Ready(Some(match (k, v) {
                    (Reply::Bulk(k), Reply::Bulk(v)) => Ok((k, v)),
                    (k, _) => Err(unexpected("RANGE pair", &k)),
                }));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.sleep = None;
                    if !chunk.more {
                        this.done = true;
                    }
                    match chunk.body {
                        Reply::Map(pairs) => this.buffered = pairs.into_iter(),
                        Reply::Error(m) => {
                            return this.finish(Error::Server {
                                message: String::from_utf8_lossy(&m).into_owned(),
                            })
                        }
                        other => return this.finish(unexpected("RANGE", &other)),
                    }
                }
                Poll::Ready(Some(Err(e))) => return this.finish(e),
                Poll::Ready(None) => {
                    let reason = this.conn.closed_reason();
                    return this.finish(Error::lost(
                        reason.unwrap_or_else(|| "the range stream ended early".into()),
                    ));
                }
                Poll::Pending => {
                    if let Some(after) = this.timeout {
                        let sleep = this
                            .sleep
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
                        if sleep.as_mut().poll(cx).is_ready() {
                            return this.finish(Error::Timeout { after });
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for RangeStream {
    fn drop(&mut self) {
        if !self.done {
            self.conn.forget(self.id);
        }
    }
}
