-- adsctl state on PostgreSQL, version 2: what stayed per machine in the state directory until now, shared.
-- Nothing here is ever in clear: the vault rows hold what vault.json holds (adsctl seals them before they are
-- sent, with the master key that never leaves the machine), the API tokens only their SHA-256.

-- the token vault: one row per account, sealed exactly as an entry of vault.json (`sealed`: adsctl's JSON of the
-- entry: platform, expiry, update time, nonce and ciphertext); `key_id` is the fingerprint of the master key that
-- sealed it (the same for every row: a write re-seals them all under the current key)
CREATE TABLE adsctl_vault (
    account text COLLATE "C" PRIMARY KEY,
    key_id  text NOT NULL,
    sealed  text NOT NULL
);

-- the audit log (`adsctl history`): one row per line of audit.jsonl, byte for byte, hash-chained the same way;
-- rows are only ever added (a trigger refuses the rest: an altered row is still found by `history --verify`)
CREATE TABLE adsctl_audit (
    seq  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line text NOT NULL
);

CREATE FUNCTION adsctl_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the adsctl audit log is append-only: rows are never updated or deleted';
END
$$;

CREATE TRIGGER adsctl_audit_no_change BEFORE UPDATE OR DELETE ON adsctl_audit
    FOR EACH ROW EXECUTE FUNCTION adsctl_audit_append_only();
CREATE TRIGGER adsctl_audit_no_truncate BEFORE TRUNCATE ON adsctl_audit
    FOR EACH STATEMENT EXECUTE FUNCTION adsctl_audit_append_only();

-- bearer tokens of the daemon's HTTP API (`adsctl api-token`): the hex SHA-256 of each, never the token
CREATE TABLE adsctl_api_tokens (
    name    text COLLATE "C" PRIMARY KEY,
    role    text NOT NULL,
    sha256  text NOT NULL,
    created text NOT NULL
);
