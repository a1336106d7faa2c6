-- A close records how many tenants it could not rate, so that a re-close
-- of a period every tenant of which was rated answers from what is stored
-- instead of rating the whole month again (docs/billing.md).
ALTER TABLE {tables:closed_periods}{on_cluster}
    ADD COLUMN IF NOT EXISTS failed_tenants UInt32 DEFAULT 0 COMMENT 'tenants the close could not rate (retried by later closes)';
