-- Webhooks (SPEC §7, docs/webhooks.md). Endpoints, one row per version:
-- a rotation, a disable or a delete inserts the endpoint again with a
-- higher version; readers keep the highest version of each.
CREATE TABLE IF NOT EXISTS {table:webhook_endpoints}{on_cluster}
(
    endpoint_id       String,
    url               String,
    event_types       Array(String),
    tenant            String COMMENT 'empty: a finance endpoint, every tenant',
    secret            String COMMENT 'whsec_..., signs deliveries',
    prev_secret       String COMMENT 'the rotated-out secret, signing until prev_until',
    prev_until        DateTime64(3, 'UTC'),
    disabled_at       DateTime64(3, 'UTC') COMMENT 'zero while enabled',
    disabled_reason   String,
    deleted           UInt8,
    created_at        DateTime64(3, 'UTC'),
    version           UInt64
)
ENGINE = {engine:ReplacingMergeTree(version)}
ORDER BY endpoint_id;
{distributed:webhook_endpoints SHARD BY cityHash64(endpoint_id)};

-- Every message generated, once per id (a repeat folds).
CREATE TABLE IF NOT EXISTS {table:webhook_messages}{on_cluster}
(
    message_id  String,
    type        LowCardinality(String),
    tenant      String,
    ts          DateTime64(9, 'UTC'),
    data        String,
    logged_at   DateTime64(3, 'UTC')
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY message_id;
{distributed:webhook_messages SHARD BY cityHash64(message_id)};

-- The delivery log: one row per attempt.
CREATE TABLE IF NOT EXISTS {table:webhook_attempts}{on_cluster}
(
    delivery_id      String,
    message_id       String,
    endpoint_id      String,
    type             LowCardinality(String),
    tenant           String,
    attempt          UInt32,
    at               DateTime64(3, 'UTC'),
    outcome          LowCardinality(String) COMMENT 'succeeded, retrying, failed',
    http_status      UInt16,
    latency_ms       UInt32,
    response         String COMMENT 'the first 4 KiB of the answer',
    error            String,
    next_attempt_at  DateTime64(3, 'UTC')
)
ENGINE = {engine:MergeTree}
ORDER BY (endpoint_id, delivery_id, at);
{distributed:webhook_attempts SHARD BY cityHash64(endpoint_id)};
