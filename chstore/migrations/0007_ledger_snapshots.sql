-- The state each payout run leaves (marketplace.Snapshot): the next run
-- starts from it and reads only the events stored after it
-- (docs/marketplace.md, "Incremental ledger"). Every row carries the
-- run's as_of and the saved_at of the store that wrote it; the header row
-- of ledger_snapshots is written last, so a snapshot cut short by a crash
-- (rows without their header) is never read, and a run of the same as_of
-- stored again is a new snapshot beside it: readers take the header with
-- the latest (as_of, saved_at). Every table is sharded by as_of: a
-- snapshot is written and read whole, from one shard.

CREATE TABLE IF NOT EXISTS {table:ledger_snapshots}{on_cluster}
(
    as_of     DateTime64(9, 'UTC') COMMENT 'the run instant T: every effect at or before it is counted',
    position  UInt64 COMMENT 'events.stream_seq through which every event was readable when the run read them: later ones are read by the next run',
    saved_at  DateTime64(9, 'UTC') COMMENT 'when the run stored it (its clock): a retried run stores a new snapshot beside the first',
    pairs     UInt32,
    orders    UInt32
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at);
{distributed:ledger_snapshots SHARD BY cityHash64(as_of)};

-- Balances and the open statement window per provider and currency.
CREATE TABLE IF NOT EXISTS {table:ledger_snapshot_pairs}{on_cluster}
(
    as_of           DateTime64(9, 'UTC'),
    saved_at        DateTime64(9, 'UTC'),
    provider        String,
    currency        LowCardinality(String),
    held            Decimal(38, 9),
    available       Decimal(38, 9),
    paid            Decimal(38, 9),
    last_payout_id  String COMMENT 'latest payout at or before as_of; empty if none',
    last_payout_at  DateTime64(9, 'UTC'),
    opening         Decimal(38, 9) COMMENT 'available balance right after that payout: the next carry-over'
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at, provider, currency);
{distributed:ledger_snapshot_pairs SHARD BY cityHash64(as_of)};

-- The statement lines since each pair's last payout, in order.
CREATE TABLE IF NOT EXISTS {table:ledger_snapshot_lines}{on_cluster}
(
    as_of     DateTime64(9, 'UTC'),
    saved_at        DateTime64(9, 'UTC'),
    provider  String,
    currency  LowCardinality(String),
    line_no   UInt32,
    kind      LowCardinality(String) COMMENT 'sale, refund, clawback, returned_payout',
    at        DateTime64(9, 'UTC'),
    order_id  String,
    course_id String,
    refund_id String,
    payout_id String,
    entry_id  String,
    amount    Decimal(38, 9)
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at, provider, currency, line_no);
{distributed:ledger_snapshot_lines SHARD BY cityHash64(as_of)};

-- Every accepted sale dated at or before as_of (refund_no 0) and its
-- accepted refunds dated at or before as_of (refund_no 1, 2, … in effect
-- order).
CREATE TABLE IF NOT EXISTS {table:ledger_snapshot_orders}{on_cluster}
(
    as_of      DateTime64(9, 'UTC'),
    saved_at        DateTime64(9, 'UTC'),
    provider   String,
    order_id   String,
    refund_no  UInt32,
    event_id   String,
    refund_id  String,
    at         DateTime64(9, 'UTC'),
    currency   LowCardinality(String),
    gross      Decimal(38, 9) COMMENT 'sale rows',
    tax        Decimal(38, 9) COMMENT 'sale rows',
    amount     Decimal(38, 9) COMMENT 'refund rows',
    buyer_id   String,
    course_id  String
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at, provider, order_id, refund_no);
{distributed:ledger_snapshot_orders SHARD BY cityHash64(as_of)};

-- Per provider, the KYC change in force at as_of.
CREATE TABLE IF NOT EXISTS {table:ledger_snapshot_kyc}{on_cluster}
(
    as_of           DateTime64(9, 'UTC'),
    saved_at        DateTime64(9, 'UTC'),
    provider        String,
    at              DateTime64(9, 'UTC'),
    verified        UInt8,
    stripe_account  String,
    event_id        String
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at, provider);
{distributed:ledger_snapshot_kyc SHARD BY cityHash64(as_of)};

-- The payouts dated at or before as_of as the snapshot counted them.
CREATE TABLE IF NOT EXISTS {table:ledger_snapshot_payouts}{on_cluster}
(
    as_of      DateTime64(9, 'UTC'),
    saved_at        DateTime64(9, 'UTC'),
    payout_id  String,
    provider   String,
    currency   LowCardinality(String),
    at         DateTime64(9, 'UTC'),
    amount     Decimal(38, 9),
    account    String,
    failed_at  DateTime64(9, 'UTC') COMMENT 'a failure dated at or before as_of that gave the amount back; 1970 if none'
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (as_of, saved_at, provider, payout_id);
{distributed:ledger_snapshot_payouts SHARD BY cityHash64(as_of)};
