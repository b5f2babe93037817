//! The listener's audit-log writer. A patch is durable before it is acknowledged; its
//! `patch.received` line need not hold up the answer, so intake hands events to this thread,
//! which appends whatever has gathered with one write and one sync. Under load that turns one
//! serialised fsync per patch into one per batch. Stopping drains and joins the thread; only a
//! SIGKILL can lose lines still queued (never the patches they describe).

use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use crate::store::Home;
use crate::store::events::{self, Event};

/// Most events written with one sync.
const BATCH: usize = 1024;

pub struct Audit {
    sender: Mutex<Option<Sender<Event>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Audit {
    pub fn start(home: Home) -> Audit {
        let (tx, rx) = channel::<Event>();
        let writer = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH
                    && let Ok(event) = rx.try_recv()
                {
                    batch.push(event);
                }
                if let Err(e) = events::append_all(&home, &batch) {
                    eprintln!("runner: error: {e:#} ({} audit events not written)", batch.len());
                }
            }
        });
        Audit { sender: Mutex::new(Some(tx)), writer: Mutex::new(Some(writer)) }
    }

    pub fn record(&self, event: Event) {
        if let Some(tx) = self.sender.lock().unwrap().as_ref() {
            let _ = tx.send(event);
        }
    }

    /// Write what is queued and stop the writer.
    pub fn stop(&self) {
        drop(self.sender.lock().unwrap().take());
        if let Some(writer) = self.writer.lock().unwrap().take() {
            let _ = writer.join();
        }
    }
}
