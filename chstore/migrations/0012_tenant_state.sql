-- The tenant state events of SPEC §6 get their typed columns (docs/
-- clickhouse.md, "Typed rows"): tenant.feature_flag.set's flag and
-- enabled, marketplace.seller.enrolled / .left's provider.
-- tenant.ai_cap.set's monthly_credits is a credits quantity and goes to
-- the existing `credits` column, as a pack's credits do. No row stored
-- before this migration is of these types; the DEFAULTs read `payload`
-- all the same, like migration 0009's.
ALTER TABLE {tables:events}{on_cluster}
    ADD COLUMN IF NOT EXISTS flag LowCardinality(String)
        DEFAULT JSONExtractString(payload, 'data', 'flag')
        COMMENT 'tenant.feature_flag.set: flag name',
    ADD COLUMN IF NOT EXISTS enabled UInt8
        DEFAULT JSONExtractString(payload, 'data', 'enabled') = 'true'
        COMMENT 'tenant.feature_flag.set: 1 enabled, 0 disabled',
    ADD COLUMN IF NOT EXISTS provider String
        DEFAULT JSONExtractString(payload, 'data', 'provider')
        COMMENT 'marketplace.seller.enrolled, left: the marketplace provider id';

-- The live tenant state (entitlements/) follows the events stored after a
-- stream sequence: a minmax index on stream_seq lets that read skip the
-- granules stored before it (rows are inserted in sequence order, so each
-- granule holds a narrow range). Rows stored before this migration get
-- the index by a mutation that runs in the background (as 0011's filter
-- does); until it has passed over a part, that part is read in full.
ALTER TABLE {table:events}{on_cluster}
    ADD INDEX IF NOT EXISTS stream_seq_minmax stream_seq TYPE minmax GRANULARITY 1;

ALTER TABLE {table:events}{on_cluster}
    MATERIALIZE INDEX stream_seq_minmax;
