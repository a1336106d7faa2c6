-- Every price book Tally has started with (SPEC §5 "Every price book
-- version stays"): a closed month is re-rated with the version its invoice
-- was billed under, so each version's prices are kept here for good. A
-- version is written once, by the first start with it; Tally refuses to
-- start with a book whose version is here with another source. MergeTree
-- keeps every row: two replicas starting at once may both write a
-- version, and a difference between their sources must show, not fold.
CREATE TABLE IF NOT EXISTS {table:price_books}{on_cluster}
(
    version     String COMMENT 'the version invoices name (price_book_version)',
    source      String COMMENT 'the book as canonical JSON: compact, object keys sorted',
    started_at  DateTime64(3, 'UTC') COMMENT 'when Tally first started with this version'
)
ENGINE = {engine:MergeTree}
ORDER BY (version, started_at);
{distributed:price_books SHARD BY cityHash64(version)};
