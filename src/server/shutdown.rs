//! The server-wide stop signal: SIGINT, SIGTERM or SHUTDOWN trigger it once; the listener
//! stops accepting and every connection closes after answering what it has already read.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A one-way latch every task can wait on.
#[derive(Debug, Default)]
pub struct Shutdown {
    triggered: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    /// Starts the shutdown; later calls do nothing more.
    pub fn trigger(&self) {
        self.triggered.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    /// Resolves once shutdown has started (at once if it already has).
    pub async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Register before checking the flag so a trigger in between is not missed.
        notified.as_mut().enable();
        if self.is_triggered() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn wakes_waiters_and_later_callers() {
        let shutdown = Arc::new(Shutdown::default());
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.wait().await }
        });
        tokio::task::yield_now().await;
        shutdown.trigger();
        waiter.await.unwrap();
        shutdown.wait().await;
    }
}
