//! The listener's audit-log writer, a group commit: intake hands its `patch.received` event to
//! this thread and waits until it is synced, and the thread appends whatever has gathered with
//! one write and one sync. Under load that turns one serialised fsync per patch into one per
//! batch, while an acknowledged patch still has its audit line on disk before the answer goes
//! out, so a SIGKILL loses neither.

use std::sync::Mutex;
use std::sync::mpsc::{Sender, SyncSender, channel, sync_channel};

use crate::store::Home;
use crate::store::events::{self, Event};

/// Most events written with one sync.
const BATCH: usize = 1024;

/// An event and where to say whether it reached the disk.
type Pending = (Event, SyncSender<bool>);

pub struct Audit {
    sender: Mutex<Sender<Pending>>,
}

impl Audit {
    pub fn start(home: Home) -> Audit {
        let (tx, rx) = channel::<Pending>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH
                    && let Ok(pending) = rx.try_recv()
                {
                    batch.push(pending);
                }
                let (events, acks): (Vec<Event>, Vec<SyncSender<bool>>) = batch.into_iter().unzip();
                let written = match events::append_all(&home, &events) {
                    Ok(()) => true,
                    Err(e) => {
                        eprintln!("runner: error: {e:#} ({} audit events not written)", events.len());
                        false
                    }
                };
                for ack in acks {
                    let _ = ack.send(written);
                }
            }
        });
        Audit { sender: Mutex::new(tx) }
    }

    /// Append the event and wait until it is synced; false when it could not be written (the
    /// writer said why on stderr) or the writer has stopped.
    pub fn record(&self, event: Event) -> bool {
        let (ack, done) = sync_channel(1);
        let sent = self.sender.lock().unwrap().send((event, ack)).is_ok();
        sent && done.recv().unwrap_or(false)
    }
}
