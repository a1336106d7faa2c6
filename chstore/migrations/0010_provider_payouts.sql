-- Payouts by provider: the rows of payouts (every version), ordered by
-- provider, so that one provider's payouts are read by key (a balance
-- read) instead of scanning every payout, which payouts' key (payout_id)
-- does not group. Filled by a materialized view as payouts are written,
-- then, for the rows written before it, by one copy (after the view
-- exists, so that no row falls between; a row copied twice is the same
-- version twice).
CREATE TABLE IF NOT EXISTS {table:provider_payouts}{on_cluster}
(
    payout_id          String,
    provider           String,
    currency           LowCardinality(String),
    amount             Decimal(38, 9),
    as_of              DateTime64(9, 'UTC'),
    account            String,
    status             LowCardinality(String),
    status_reason      String,
    stripe_transfer_id String,
    failed_at          DateTime64(9, 'UTC'),
    version            UInt64
)
ENGINE = {engine:ReplacingMergeTree(version)}
ORDER BY (provider, payout_id);

-- On a cluster the view writes each row on the shard of its payouts row
-- and the copy below by provider, so two versions of a payout may sit on
-- two shards: readers keep the highest version of each payout themselves
-- rather than rely on FINAL.
{distributed:provider_payouts SHARD BY cityHash64(provider)};

CREATE MATERIALIZED VIEW IF NOT EXISTS provider_payouts_mv{on_cluster} TO {table:provider_payouts} AS
SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version
FROM {table:payouts};

INSERT INTO provider_payouts
SELECT payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version
FROM payouts;
