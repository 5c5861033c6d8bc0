-- adsctl state on PostgreSQL, version 1: what `adsctl_core::state::StateStore` keeps, one table per kind of record.
-- Records are adsctl's own JSON (as text: kept byte for byte, decoded by adsctl); the columns beside them are what
-- the store looks records up by. Keys sort as bytes (COLLATE "C"), whatever the database's locale.

-- the id map: one row per managed address
CREATE TABLE adsctl_entries (
    address text COLLATE "C" PRIMARY KEY,
    account text COLLATE "C" NOT NULL,
    body    text NOT NULL
);
CREATE INDEX adsctl_entries_by_account ON adsctl_entries (account, address);

-- the cached live read of each account (fetched_at as RFC 3339 text: exact to the nanosecond, as on sled)
CREATE TABLE adsctl_cache (
    account     text COLLATE "C" PRIMARY KEY,
    fetched_at  text NOT NULL,
    marker      text,
    fingerprint text NOT NULL,
    resources   text NOT NULL
);

-- the write-ahead journal of creates about to be sent; keys only grow
CREATE TABLE adsctl_journal (
    key     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account text COLLATE "C" NOT NULL,
    body    text NOT NULL
);
CREATE INDEX adsctl_journal_by_account ON adsctl_journal (account, key);

-- one row per apply (`adsctl state history`), oldest first
CREATE TABLE adsctl_applies (
    seq  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body text NOT NULL
);

-- the daily metrics series (`adsctl metrics`): one row per account, pull level and day
CREATE TABLE adsctl_metrics_days (
    account text COLLATE "C" NOT NULL,
    level   text COLLATE "C" NOT NULL,
    day     date NOT NULL,
    body    text NOT NULL,
    PRIMARY KEY (account, level, day)
);
