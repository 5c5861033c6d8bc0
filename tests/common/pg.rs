//! A real PostgreSQL server for a test: Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`),
//! initdb into a temporary directory, listening on 127.0.0.1 at a free port with its socket in that directory,
//! stopped when the guard drops. `.ci/run` installs the package when it is missing; a machine without it fails
//! the test with what to install (never a silent skip).
//!
//! initdb refuses to run as root, and CI runs as root: then the server's directory is given to the `postgres`
//! user (which the package creates) and every server command runs as that user (`runuser`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    // dropped after the server is stopped (Drop below)
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    databases: std::sync::atomic::AtomicU32,
}

/// The newest PostgreSQL's bin directory under /usr/lib/postgresql.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').next()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "these tests run a real PostgreSQL server and found none under /usr/lib/postgresql/*/bin: install \
             Debian's `postgresql` package (`apt-get install postgresql`; .ci/run does it when missing)"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

impl Postgres {
    /// initdb and start a server; panics (with the server's log) when it cannot.
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// A server that also accepts TLS, with a certificate for 127.0.0.1 signed by a certificate authority of its
    /// own ([`Postgres::ca_cert`]), made with the `openssl` command (which Debian's `postgresql` pulls in).
    #[allow(dead_code)]
    pub fn start_tls() -> Postgres {
        Postgres::start_with(true)
    }

    /// The PEM file of the certificate authority that signed a [`Postgres::start_tls`] server's certificate.
    #[allow(dead_code)]
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn make_certificates(dir: &Path) {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("openssl (from Debian's `openssl`, which `postgresql` pulls in): {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=adsctl test CA",
            "-days",
            "2",
        ]);
        openssl(&ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
        openssl(&csr);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        // the server refuses a key others can read
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod the key");
    }

    fn start_with(tls: bool) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("a temporary directory");
        if tls {
            Postgres::make_certificates(dir.path());
        }
        let as_postgres_user = is_root();
        let mut pg = Postgres {
            dir,
            bin,
            port: 0,
            as_postgres_user,
            databases: std::sync::atomic::AtomicU32::new(0),
        };
        if as_postgres_user {
            pg.run_ok(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(pg.dir.path()),
                "chown",
            );
        }
        let data = pg.data();
        let mut initdb = pg.server_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        pg.run_ok(&mut initdb, "initdb");
        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..5 {
            pg.port = free_port();
            let mut options = format!(
                "-h 127.0.0.1 -p {} -k {} -F -c max_connections=50",
                pg.port,
                pg.dir.path().display()
            );
            if tls {
                let d = pg.dir.path().display();
                options.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key"
                ));
            }
            let mut start = pg.server_command("pg_ctl");
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(pg.log())
                .args(["-w", "-t", "60", "-o", &options, "start"]);
            if pg.run(&mut start).is_ok() {
                return pg;
            }
        }
        panic!(
            "PostgreSQL did not start; its log:\n{}",
            std::fs::read_to_string(pg.log()).unwrap_or_default()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command of the server's bin directory, as the `postgres` user when this process is root.
    fn server_command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, cmd: &mut Command) -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?}: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn run_ok(&self, cmd: &mut Command, what: &str) {
        if let Err(e) = self.run(cmd) {
            panic!("{what} failed: {e}");
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (as the superuser `postgres`, trusted on loopback).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        let n = self.databases.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("adsctl_test_{n}");
        let mut create = Command::new(self.bin.join("createdb"));
        create
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
            .arg(&name);
        self.run_ok(&mut create, "createdb");
        self.url(&name)
    }
}

impl Postgres {
    /// Run SQL on the database at `url` with psql (stops at the first error).
    pub fn psql(&self, url: &str, sql: &str) {
        if let Err(e) = self.psql_result(url, sql) {
            panic!("psql failed: {e}");
        }
    }

    /// Run SQL on the database at `url` with psql; the error is psql's output.
    #[allow(dead_code)]
    pub fn psql_result(&self, url: &str, sql: &str) -> Result<(), String> {
        let mut psql = Command::new(self.bin.join("psql"));
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);
        self.run(&mut psql)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let mut stop = self.server_command("pg_ctl");
        stop.arg("-D").arg(&data).args(["-m", "immediate", "-w", "stop"]);
        if let Err(e) = self.run(&mut stop) {
            eprintln!("could not stop the test's PostgreSQL: {e}");
        }
    }
}
