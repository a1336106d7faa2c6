-- The marketplace ledger: one entry per effect (sale, tax, fee, share,
-- reversal, hold release, payout, clawback), append-only. Entries are
-- derived deterministically from events and payouts, with deterministic
-- ids, so deriving them again inserts identical rows that fold together.
CREATE TABLE IF NOT EXISTS {table:ledger}{on_cluster}
(
    entry_id     String,
    provider     String,
    currency     LowCardinality(String),
    kind         LowCardinality(String) COMMENT 'sale, tax, fee, share, refund, tax_refund, fee_reversal, share_reversal, clawback, hold_release, payout, payout_failed',
    bucket       LowCardinality(String) COMMENT 'held or available for provider-balance entries; empty otherwise',
    amount       Decimal(38, 9) COMMENT 'signed change to the account the kind names',
    at           DateTime64(9, 'UTC') COMMENT 'when the entry takes effect',
    order_id     String,
    refund_id    String,
    payout_id    String,
    revises      String COMMENT 'on a correction: the entry it corrects',
    recorded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (provider, currency, entry_id);
{distributed:ledger SHARD BY cityHash64(provider)};

-- Payouts, one row per version (FINAL gives the latest status).
CREATE TABLE IF NOT EXISTS {table:payouts}{on_cluster}
(
    payout_id          String,
    provider           String,
    currency           LowCardinality(String),
    amount             Decimal(38, 9),
    as_of              DateTime64(9, 'UTC'),
    account            String COMMENT 'Stripe connected account',
    status             LowCardinality(String) COMMENT 'pending, paid, not_sent, failed',
    status_reason      String,
    stripe_transfer_id String,
    failed_at          DateTime64(9, 'UTC') COMMENT 'when a refused transfer gave the money back',
    version            UInt64
)
ENGINE = {engine:ReplacingMergeTree(version)}
ORDER BY payout_id;
{distributed:payouts SHARD BY cityHash64(payout_id)};

CREATE TABLE IF NOT EXISTS {table:payout_statement_lines}{on_cluster}
(
    payout_id    String,
    line_no      UInt32,
    kind         LowCardinality(String) COMMENT 'sale, refund, carry_over',
    ref          String,
    description  String,
    at           DateTime64(9, 'UTC'),
    amount       Decimal(38, 9)
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (payout_id, line_no);
{distributed:payout_statement_lines SHARD BY cityHash64(payout_id)};

CREATE TABLE IF NOT EXISTS {table:payout_runs}{on_cluster}
(
    as_of    DateTime64(9, 'UTC'),
    run_at   DateTime64(3, 'UTC'),
    payouts  UInt32
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY as_of;
{distributed:payout_runs SHARD BY cityHash64(as_of)};
