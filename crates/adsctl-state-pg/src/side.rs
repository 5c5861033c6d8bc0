//! What the state directory keeps beside the engine's state, on PostgreSQL (migration 2): the token vault's
//! sealed rows, the append-only audit log and the API tokens' hashes. The store only moves adsctl's text: it
//! never seals, opens nor hashes anything (adsctl does, before a row is sent), so nothing secret reaches it.

use crate::{PgError, PgStore};

/// One account's entry of the token vault, sealed by adsctl (`sealed` is its JSON envelope: nonce and
/// ciphertext in base64, the platform and times in clear, as in `vault.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultRow {
    pub account: String,
    /// The fingerprint of the master key that sealed it (not the key).
    pub key_id: String,
    pub sealed: String,
}

/// One API token: its name, role, hex SHA-256 and creation time (RFC 3339), never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    pub role: String,
    pub sha256: String,
    pub created: String,
}

/// Serialises the writers of the vault (readers are not held up): `EXCLUSIVE` conflicts with itself and with
/// every write, not with `SELECT`.
const LOCK_VAULT: &str = "LOCK TABLE adsctl_vault IN EXCLUSIVE MODE";
/// Appends to the audit log take turns, so that each one chains onto the line before it.
const LOCK_AUDIT: &str = "LOCK TABLE adsctl_audit IN EXCLUSIVE MODE";

fn vault_rows_of(rows: &[postgres::Row]) -> Vec<VaultRow> {
    rows.iter()
        .map(|r| VaultRow {
            account: r.get(0),
            key_id: r.get(1),
            sealed: r.get(2),
        })
        .collect()
}

impl PgStore {
    /// Every vault row, by account.
    pub fn vault_rows(&self) -> Result<Vec<VaultRow>, PgError> {
        self.q(|c| {
            let rows = c.query("SELECT account, key_id, sealed FROM adsctl_vault ORDER BY account", &[])?;
            Ok(vault_rows_of(&rows))
        })
    }

    /// Read, change and replace the vault in one transaction, other writers held off meanwhile: `change` gets
    /// every row and returns the rows that replace them all (`None`: nothing to write) and what to return. An
    /// `Err` from `change` writes nothing and is handed back as the inner result.
    pub fn vault_update<R, E>(
        &self,
        change: impl FnOnce(Vec<VaultRow>) -> Result<(Option<Vec<VaultRow>>, R), E> + Send + 'static,
    ) -> Result<Result<R, E>, PgError>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        self.q(move |c| {
            let mut tx = c.client.transaction()?;
            tx.batch_execute(LOCK_VAULT)?;
            let rows = tx.query("SELECT account, key_id, sealed FROM adsctl_vault ORDER BY account", &[])?;
            let (write, out) = match change(vault_rows_of(&rows)) {
                Ok(v) => v,
                // the transaction is rolled back when dropped
                Err(e) => return Ok(Err(e)),
            };
            if let Some(new) = write {
                tx.execute("DELETE FROM adsctl_vault", &[])?;
                let insert = tx.prepare("INSERT INTO adsctl_vault (account, key_id, sealed) VALUES ($1, $2, $3)")?;
                for r in &new {
                    tx.execute(&insert, &[&r.account, &r.key_id, &r.sealed])?;
                }
            }
            tx.commit()?;
            Ok(Ok(out))
        })
    }

    /// Append one line to the audit log; `make` is given the line before it (none for the first) and returns
    /// the new line (`None`: nothing is appended, and `false` returned). Appends from every process take turns.
    pub fn audit_append(
        &self,
        make: impl FnOnce(Option<&str>) -> Option<String> + Send + 'static,
    ) -> Result<bool, PgError> {
        self.q(move |c| {
            let mut tx = c.client.transaction()?;
            tx.batch_execute(LOCK_AUDIT)?;
            let last: Option<String> = tx
                .query_opt("SELECT line FROM adsctl_audit ORDER BY seq DESC LIMIT 1", &[])?
                .map(|r| r.get(0));
            let Some(line) = make(last.as_deref()) else {
                return Ok(false);
            };
            tx.execute("INSERT INTO adsctl_audit (line) VALUES ($1)", &[&line])?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// Append lines as they are (a copied log, whose chain they already carry), in one transaction.
    pub fn audit_append_lines(&self, lines: Vec<String>) -> Result<(), PgError> {
        self.q(move |c| {
            let mut tx = c.client.transaction()?;
            tx.batch_execute(LOCK_AUDIT)?;
            let insert = tx.prepare("INSERT INTO adsctl_audit (line) VALUES ($1)")?;
            for l in &lines {
                tx.execute(&insert, &[l])?;
            }
            tx.commit()
        })
    }

    /// Every line of the audit log, oldest first.
    pub fn audit_lines(&self) -> Result<Vec<String>, PgError> {
        self.q(|c| {
            let rows = c.query("SELECT line FROM adsctl_audit ORDER BY seq", &[])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Every API token, by name.
    pub fn api_tokens(&self) -> Result<Vec<TokenRow>, PgError> {
        self.q(|c| {
            let rows = c.query(
                "SELECT name, role, sha256, created FROM adsctl_api_tokens ORDER BY name",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| TokenRow {
                    name: r.get(0),
                    role: r.get(1),
                    sha256: r.get(2),
                    created: r.get(3),
                })
                .collect())
        })
    }

    /// Add a token; `false` (nothing written) when one of that name exists.
    pub fn api_token_insert(&self, row: TokenRow) -> Result<bool, PgError> {
        self.q(move |c| {
            c.execute(
                "INSERT INTO adsctl_api_tokens (name, role, sha256, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&row.name, &row.role, &row.sha256, &row.created],
            )
        })
        .map(|n| n > 0)
    }

    /// Delete a token; whether there was one.
    pub fn api_token_delete(&self, name: &str) -> Result<bool, PgError> {
        let name = name.to_string();
        self.q(move |c| c.execute("DELETE FROM adsctl_api_tokens WHERE name = $1", &[&name]))
            .map(|n| n > 0)
    }

    /// Every stored day of the metrics series: (account, level, day, body), for `adsctl state copy`.
    pub fn all_days(&self) -> Result<Vec<(String, String, chrono::NaiveDate, String)>, PgError> {
        self.q(|c| {
            let rows = c.query(
                "SELECT account, level, day, body FROM adsctl_metrics_days ORDER BY account, level, day",
                &[],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
        })
    }
}

impl PgStore {
    /// Whether the connection is gone (the server closed it, or its thread ended): a new store is needed.
    pub fn is_closed(&self) -> bool {
        self.db.run(|c| c.client.is_closed()).unwrap_or(true)
    }
}

impl PgStore {
    /// Whether this session is encrypted (TLS), as the server sees it.
    pub fn tls_in_use(&self) -> Result<bool, PgError> {
        self.q(|c| {
            let row = c.query_opt("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?;
            Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
        })
    }
}
