-- Placeholders ({on_cluster}, {table:...}, {engine:...},
-- {deduplication_window:...}, {distributed:...}) render these migrations
-- for one server or for a ClickHouse cluster: see chstore/cluster.go.
-- On a cluster each table below is <table>_local (Replicated) plus a
-- Distributed table under its name, sharded so that every copy of a row
-- lands on one shard.

-- Raw events, one row per accepted event, exactly once.
-- Hot fields are typed columns; the event is kept whole in `payload`.
-- ReplacingMergeTree on (subject, type, source, id) folds an identical row
-- that a concurrent redelivery might insert twice; readers use FINAL.
CREATE TABLE IF NOT EXISTS {table:events}{on_cluster}
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
ENGINE = {engine:ReplacingMergeTree}
PARTITION BY toYYYYMM(time)
ORDER BY (subject, type, source, id)
SETTINGS {deduplication_window:10000};
{distributed:events SHARD BY cityHash64(subject)};

-- Identity index: which (source, id) are stored, with what content.
-- Filled by a materialized view in the same insert as `events`; it has no
-- TTL, so a duplicate is recognised however late it comes.
CREATE TABLE IF NOT EXISTS {table:event_ids}{on_cluster}
(
    source        String,
    id            String,
    content_hash  FixedString(16),
    stream_seq    UInt64
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY (source, id)
SETTINGS {deduplication_window:10000};
-- Read-only: on a cluster the materialized view below fills each shard's
-- event_ids_local from its own events_local.
{distributed:event_ids};

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv{on_cluster} TO {table:event_ids} AS
SELECT source, id, content_hash, stream_seq FROM {table:events};

-- Dead letters: invalid events from the NATS path and conflicting
-- duplicates, with the reason.
CREATE TABLE IF NOT EXISTS {table:dead_letters}{on_cluster}
(
    dlq_seq        UInt64 COMMENT 'sequence in the TALLY_DLQ stream',
    origin_stream  LowCardinality(String),
    origin_seq     UInt64,
    origin_subject String,
    source         String,
    id             String,
    type           String,
    field          String,
    reason         String,
    payload        String CODEC(ZSTD(3)),
    dead_at        DateTime64(3, 'UTC')
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY dlq_seq
SETTINGS {deduplication_window:10000};
{distributed:dead_letters SHARD BY cityHash64(dlq_seq)};
