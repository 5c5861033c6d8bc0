//! The connection's own thread.
//!
//! The `postgres` client is synchronous by blocking on a runtime of its own, which panics when called from a
//! thread that is inside a tokio runtime — and the engine calls the (synchronous) `StateStore` from inside one.
//! So the client lives on a plain thread of the store's, and each call is sent there as a closure and waited for
//! over a channel: the caller blocks as it does on a sled read, from any thread, inside a runtime or not.

use std::sync::mpsc;
use std::thread::JoinHandle;

use postgres::{Client, Config, NoTls};

type Job = Box<dyn FnOnce(&mut Client) + Send>;

pub(crate) struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// Why a connection could not be made.
pub(crate) enum ConnectError {
    Thread(std::io::Error),
    Postgres(postgres::Error),
}

impl Worker {
    /// Connect on a new thread; returns once the connection is made (or failed).
    pub(crate) fn connect(config: Config) -> Result<Worker, ConnectError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel::<Result<(), postgres::Error>>(1);
        let thread = std::thread::Builder::new()
            .name("adsctl-state-pg".into())
            .spawn(move || {
                let mut client = match config.connect(NoTls) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = inbox.recv() {
                    job(&mut client);
                }
                // the sender is gone: the client is dropped here, which ends the session (and its advisory locks)
            })
            .map_err(ConnectError::Thread)?;
        let worker = Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        match ready.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(e)) => Err(ConnectError::Postgres(e)),
            Err(_) => Err(ConnectError::Thread(std::io::Error::other(
                "the connection thread ended before connecting",
            ))),
        }
    }

    /// Run `f` with the client on the connection's thread and wait for its result; `None` when that thread is gone
    /// (it panicked).
    pub(crate) fn run<R: Send + 'static>(&self, f: impl FnOnce(&mut Client) -> R + Send + 'static) -> Option<R> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = reply.send(f(client));
        });
        self.jobs.as_ref()?.send(job).ok()?;
        answer.recv().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
