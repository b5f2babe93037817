//! Group commit for the listener's syncs. A request that queues a patch must wait until the
//! patch's directory and its audit line are on disk before it answers 202; each is a flush that
//! concurrent requests can share. A `GroupCommit` is one thread that takes whatever items have
//! gathered, commits them with one call (one audit append and sync; one sync per directory),
//! and then releases every waiter. Intake submits to both groups before waiting on either, so
//! the two flushes run side by side, and a burst of N patches costs N file syncs plus a few
//! shared ones instead of three each. A SIGKILL loses nothing acknowledged: no answer goes out
//! before its commits return.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use anyhow::{Result, anyhow};

/// Most items committed with one call.
const BATCH: usize = 1024;

/// An item and where to say whether its batch committed.
type Job<T> = (T, SyncSender<Result<(), String>>);

pub(crate) struct GroupCommit<T> {
    sender: Mutex<Sender<Job<T>>>,
}

/// A submitted item's place in its batch: wait on it for the outcome.
pub(crate) struct Ticket(Option<Receiver<Result<(), String>>>);

impl<T: Send + 'static> GroupCommit<T> {
    /// Start the committing thread; `commit` is called with each batch, in arrival order.
    pub(crate) fn start(mut commit: impl FnMut(Vec<T>) -> Result<()> + Send + 'static) -> GroupCommit<T> {
        let (tx, rx) = channel::<Job<T>>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH
                    && let Ok(job) = rx.try_recv()
                {
                    batch.push(job);
                }
                let (items, acks): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                let outcome = commit(items).map_err(|e| format!("{e:#}"));
                for ack in acks {
                    let _ = ack.send(outcome.clone());
                }
            }
        });
        GroupCommit { sender: Mutex::new(tx) }
    }

    pub(crate) fn submit(&self, item: T) -> Ticket {
        let (ack, done) = sync_channel(1);
        Ticket(self.sender.lock().unwrap().send((item, ack)).is_ok().then_some(done))
    }
}

impl Ticket {
    /// Block until the item's batch has committed.
    pub(crate) fn wait(self) -> Result<()> {
        let stopped = || anyhow!("the commit thread has stopped");
        self.0.ok_or_else(stopped)?.recv().map_err(|_| stopped())?.map_err(|e| anyhow!(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_waiter_learns_its_batch_outcome() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let group = Arc::new(GroupCommit::start(move |items: Vec<u32>| {
            counted.fetch_add(1, Ordering::SeqCst);
            if items.contains(&13) { Err(anyhow!("disk full")) } else { Ok(()) }
        }));
        let waiters: Vec<_> = (0..40u32)
            .map(|i| {
                let group = group.clone();
                std::thread::spawn(move || (i, group.submit(i).wait()))
            })
            .collect();
        for w in waiters {
            let (i, outcome) = w.join().unwrap();
            if i == 13 {
                assert_eq!(outcome.unwrap_err().to_string(), "disk full");
            } else if let Err(e) = outcome {
                // Only 13's batch fails, and its batch-mates hear why.
                assert_eq!(e.to_string(), "disk full");
            }
        }
        let batches = calls.load(Ordering::SeqCst);
        assert!((1..=40).contains(&batches), "{batches}");
    }
}
