-- Raw events, one row per accepted event, exactly once.
-- Hot fields are typed columns; the event is kept whole in `payload`.
-- ReplacingMergeTree on (subject, type, source, id) folds an identical row
-- that a concurrent redelivery might insert twice; readers use FINAL.
CREATE TABLE IF NOT EXISTS events
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (subject, type, source, id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Identity index: which (source, id) are stored, with what content.
-- Filled by a materialized view in the same insert as `events`; it has no
-- TTL, so a duplicate is recognised however late it comes.
CREATE TABLE IF NOT EXISTS event_ids
(
    source        String,
    id            String,
    content_hash  FixedString(16),
    stream_seq    UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (source, id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS
SELECT source, id, content_hash, stream_seq FROM events;

-- Dead letters: invalid events from the NATS path and conflicting
-- duplicates, with the reason.
CREATE TABLE IF NOT EXISTS dead_letters
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
ENGINE = ReplacingMergeTree
ORDER BY dlq_seq
SETTINGS non_replicated_deduplication_window = 10000;
