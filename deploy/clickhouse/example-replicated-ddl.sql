-- The intended cluster shape of Tally's `events` table and its identity
-- index, for the `tally` cluster of config.d/cluster.xml. An example, not
-- a migration: Tally's migrations (chstore/migrations/) still create plain
-- ReplacingMergeTree tables; rendering them like this behind a
-- `--clickhouse-cluster` setting is future work (issue 5).
--
-- The rule for every table of chstore/migrations:
--   * <table>_local: the same columns, ORDER BY and PARTITION BY, with the
--     engine's Replicated twin (ReplacingMergeTree(v) becomes
--     ReplicatedReplacingMergeTree(path, '{replica}', v)), created ON CLUSTER;
--     non_replicated_deduplication_window becomes
--     replicated_deduplication_window (insert dedup tokens then work across
--     replicas);
--   * <table>: a Distributed table ON CLUSTER over <table>_local, under the
--     name Tally queries, sharded by the first ORDER BY column so that
--     identical copies of a row land on the same shard and FINAL folds them;
--   * materialized views are attached to the _local tables, so each shard
--     fills its own identity index.
-- Inserts into a Distributed table must be synchronous
-- (distributed_foreground_insert = 1) or the sink would ack JetStream
-- before the rows are stored.
--
-- Run with: clickhouse-client --database tally --multiquery < example-replicated-ddl.sql

CREATE TABLE IF NOT EXISTS events_local ON CLUSTER tally
(
    source        String,
    id            String,
    type          LowCardinality(String),
    subject       String,
    time          DateTime64(9, 'UTC'),
    content_hash  FixedString(16),
    credits       Decimal(38, 9) COMMENT 'ai.credits.consumed and pack_purchased: credits',
    feature       LowCardinality(String) COMMENT 'ai.credits.consumed: feature',
    model         LowCardinality(String) COMMENT 'ai.credits.consumed: model (optional)',
    user_id       String COMMENT 'ai.credits.consumed, seat.*: user id',
    seat_type     LowCardinality(String) COMMENT 'seat.*: learner or author',
    order_id      String COMMENT 'marketplace.*: order id',
    currency      LowCardinality(String) COMMENT 'money events: ISO 4217 code',
    amount        Decimal(38, 9) COMMENT 'sale: gross; refund: amount; pack: price',
    tax           Decimal(38, 9) COMMENT 'sale: tax',
    payload       String COMMENT 'the event exactly as received' CODEC(ZSTD(3)),
    stream_seq    UInt64 COMMENT 'sequence in the TALLY_EVENTS stream',
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{cluster}/{shard}/{database}/events_local', '{replica}')
PARTITION BY toYYYYMM(time)
ORDER BY (subject, type, source, id)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS events ON CLUSTER tally AS events_local
ENGINE = Distributed(tally, currentDatabase(), events_local, cityHash64(subject));

CREATE TABLE IF NOT EXISTS event_ids_local ON CLUSTER tally
(
    source        String,
    id            String,
    content_hash  FixedString(16),
    stream_seq    UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{cluster}/{shard}/{database}/event_ids_local', '{replica}')
ORDER BY (source, id)
SETTINGS replicated_deduplication_window = 10000;

-- Filled on each shard in the same insert as events_local.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv ON CLUSTER tally TO event_ids_local AS
SELECT source, id, content_hash, stream_seq FROM events_local;

-- Read-only: the sink asks it whether an identity is stored anywhere.
CREATE TABLE IF NOT EXISTS event_ids ON CLUSTER tally AS event_ids_local
ENGINE = Distributed(tally, currentDatabase(), event_ids_local);
