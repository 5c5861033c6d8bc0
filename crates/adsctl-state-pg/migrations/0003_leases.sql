-- adsctl state on PostgreSQL, version 3: several `adsctl watch` replicas sharing the accounts (docs/watch.md,
-- "Several replicas"). Every time is the database's clock (now()): replicas compare nothing with their own clocks.

-- one row per running replica, kept alive by its heartbeat; a replica whose row expired counts as gone
CREATE TABLE adsctl_replicas (
    replica      text COLLATE "C" PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- fencing tokens: a new one for every acquisition of a lease, never reused
CREATE SEQUENCE adsctl_lease_tokens AS bigint;

-- which replica reconciles which account, until when; a write made for an account's reconcile carries the
-- token and is refused unless the lease is still this one and unexpired
CREATE TABLE adsctl_leases (
    account     text COLLATE "C" PRIMARY KEY,
    holder      text COLLATE "C" NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX adsctl_leases_by_holder ON adsctl_leases (holder, account);
