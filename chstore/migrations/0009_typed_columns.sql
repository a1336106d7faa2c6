-- Every field of every event as a typed column (docs/clickhouse.md,
-- "Typed rows"). The sink fills them from the event it decoded; billing
-- and payouts read events back from them (chstore/eventrows.go) and never
-- decode `payload` again. `payload` stays: it is the event exactly as
-- received, for dead letters and audits.
--
-- Rows stored before this migration have no value in these columns: each
-- DEFAULT computes it from `payload` when such a row is read (and when an
-- insert leaves the column out), so old rows read right without a rewrite.
-- The data of a valid event has strings only (numbers are decimal
-- strings, SPEC §1); a field a type does not have is absent from its data
-- and reads '' (or an empty map or list, or 0), the value the sink writes.
-- On a cluster the storage table and the Distributed table both get the
-- columns.
ALTER TABLE {tables:events}{on_cluster}
    ADD COLUMN IF NOT EXISTS ai_provider LowCardinality(String)
        DEFAULT JSONExtractString(payload, 'data', 'provider')
        COMMENT 'ai.credits.consumed: the AI vendor (optional)',
    ADD COLUMN IF NOT EXISTS pack_id String
        DEFAULT JSONExtractString(payload, 'data', 'pack_id')
        COMMENT 'ai.credits.pack_purchased: pack id',
    ADD COLUMN IF NOT EXISTS plan LowCardinality(String)
        DEFAULT JSONExtractString(payload, 'data', 'plan')
        COMMENT 'subscription.started, changed: price-book plan key',
    ADD COLUMN IF NOT EXISTS term LowCardinality(String)
        DEFAULT JSONExtractString(payload, 'data', 'term')
        COMMENT 'subscription.started, changed: monthly, annual or multi_year',
    ADD COLUMN IF NOT EXISTS term_years UInt8
        DEFAULT toUInt8OrZero(JSONExtractString(payload, 'data', 'term_years'))
        COMMENT 'subscription.started, changed: 2 to 5 for multi_year, else 0',
    ADD COLUMN IF NOT EXISTS committed_seats Map(LowCardinality(String), Int64)
        DEFAULT mapApply((k, v) -> (k, toInt64OrZero(v)), JSONExtract(payload, 'data', 'committed_seats', 'Map(String, String)'))
        COMMENT 'subscription.started, changed: seats committed per seat type; empty when absent',
    ADD COLUMN IF NOT EXISTS addons Array(String)
        DEFAULT JSONExtract(payload, 'data', 'addons', 'Array(String)')
        COMMENT 'subscription.started, changed: add-on keys in the order sent',
    ADD COLUMN IF NOT EXISTS reason String
        DEFAULT JSONExtractString(payload, 'data', 'reason')
        COMMENT 'subscription.canceled, provider.kyc.revoked: reason (optional)',
    ADD COLUMN IF NOT EXISTS buyer_id String
        DEFAULT JSONExtractString(payload, 'data', 'buyer_id')
        COMMENT 'marketplace.sale.completed: buyer id',
    ADD COLUMN IF NOT EXISTS course_id String
        DEFAULT JSONExtractString(payload, 'data', 'course_id')
        COMMENT 'marketplace.sale.completed: course id',
    ADD COLUMN IF NOT EXISTS refund_id String
        DEFAULT JSONExtractString(payload, 'data', 'refund_id')
        COMMENT 'marketplace.refund.issued: refund id',
    ADD COLUMN IF NOT EXISTS stripe_account String
        DEFAULT JSONExtractString(payload, 'data', 'stripe_account')
        COMMENT 'provider.kyc.verified: connected account, acct_...';
