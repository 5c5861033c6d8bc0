//! The connection's own thread.
//!
//! The `postgres` client is synchronous by blocking on a runtime of its own, which panics when called from a
//! thread that is inside a tokio runtime — and the engine calls the (synchronous) `StateStore` from inside one.
//! So the client lives on a plain thread of the store's, and each call is sent there as a closure and waited for
//! over a channel: the caller blocks as it does on a sled read, from any thread, inside a runtime or not.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The connection and its prepared statements: each of the store's statements is parsed once per session, so a
/// call is one round trip (a statement given as text costs a second one, to prepare it).
pub(crate) struct Conn {
    pub(crate) client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Conn {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    pub(crate) fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }

    pub(crate) fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    pub(crate) fn query_one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_one(&s, params)
    }

    pub(crate) fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params)
    }
}

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
    /// Connect on a new thread; returns once the connection is made (or failed). With `reconnect`, a job that
    /// finds the connection closed (the server restarted, the network cut it) connects again first — only for
    /// sessions that hold no session state (no advisory lock), which a new session would silently lose. With
    /// `tls`, the connection (and every reconnection) is encrypted or not made.
    pub(crate) fn connect(
        config: Config,
        tls: Option<rustls::ClientConfig>,
        reconnect: bool,
    ) -> Result<Worker, ConnectError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel::<Result<(), postgres::Error>>(1);
        let thread = std::thread::Builder::new()
            .name("adsctl-state-pg".into())
            .spawn(move || {
                let open = |config: &Config| match &tls {
                    Some(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls.clone())),
                    None => config.connect(NoTls),
                };
                let mut conn = match open(&config) {
                    Ok(client) => {
                        let _ = ready_tx.send(Ok(()));
                        Conn {
                            client,
                            prepared: HashMap::new(),
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = inbox.recv() {
                    if reconnect && conn.client.is_closed() {
                        // when it fails, the job fails on the closed client and the next one tries again
                        if let Ok(client) = open(&config) {
                            conn = Conn {
                                client,
                                prepared: HashMap::new(),
                            };
                        }
                    }
                    job(&mut conn);
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
    pub(crate) fn run<R: Send + 'static>(&self, f: impl FnOnce(&mut Conn) -> R + Send + 'static) -> Option<R> {
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
