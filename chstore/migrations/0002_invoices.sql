-- Invoices, one row per invoice version: a status change inserts the
-- invoice again with a higher `version`; readers use FINAL (or argMax by
-- version) to see the latest. Lines never change once finalized.
CREATE TABLE IF NOT EXISTS {table:invoices}{on_cluster}
(
    invoice_id          String COMMENT 'Tally invoice id, deterministic from tenant, period and kind',
    tenant              String,
    period              String COMMENT 'billing period YYYY-MM (upfront and upgrade invoices: the month they are issued)',
    kind                LowCardinality(String) COMMENT 'monthly, upfront or upgrade',
    currency            LowCardinality(String),
    price_book_version  String,
    subtotal            Decimal(38, 9),
    discount            Decimal(38, 9),
    total               Decimal(38, 9),
    status              LowCardinality(String) COMMENT 'draft, finalized, not_sent, sent, send_failed',
    status_reason       String COMMENT 'why send_failed (Stripe error)',
    stripe_customer_id  String,
    stripe_invoice_id   String,
    issued_at           DateTime64(3, 'UTC'),
    version             UInt64 COMMENT 'increases with every status change'
)
ENGINE = {engine:ReplacingMergeTree(version)}
ORDER BY invoice_id;
{distributed:invoices SHARD BY cityHash64(invoice_id)};

CREATE TABLE IF NOT EXISTS {table:invoice_lines}{on_cluster}
(
    invoice_id   String,
    line_no      UInt32,
    tenant       String,
    kind         LowCardinality(String) COMMENT 'base, addon, committed_seats, seats, ai_overage, ai_pack, discount, adjustment',
    item         String COMMENT 'what the line bills, unique per (invoice, period): base:team, seats:learner, ai_overage, pack:<id>...',
    adjusts      LowCardinality(String) COMMENT 'for adjustment lines: the kind of line adjusted',
    description  String,
    quantity     Decimal(38, 9),
    unit_price   Decimal(38, 9),
    amount       Decimal(38, 9) COMMENT 'rounded once to the currency minor unit, half-to-even',
    period       String COMMENT 'the period this line bills; for adjustments the original period',
    flags        Array(LowCardinality(String)) COMMENT 'e.g. over_limit'
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (invoice_id, line_no);
{distributed:invoice_lines SHARD BY cityHash64(invoice_id)};

-- One Stripe customer per tenant, remembered so it is never created twice.
CREATE TABLE IF NOT EXISTS {table:stripe_customers}{on_cluster}
(
    tenant       String,
    customer_id  String,
    created_at   DateTime64(3, 'UTC')
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY tenant;
{distributed:stripe_customers SHARD BY cityHash64(tenant)};

-- Closed periods: a period close records itself here when every tenant's
-- invoice is finalized; a second close of the same period changes nothing.
CREATE TABLE IF NOT EXISTS {table:closed_periods}{on_cluster}
(
    period      String,
    closed_at   DateTime64(3, 'UTC'),
    invoices    UInt32
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY period;
{distributed:closed_periods SHARD BY cityHash64(period)};
