-- Finance from columns (docs/finance.md "Line facts"). Invoice lines state
-- what they bill as typed columns, set by the rating rule that made each
-- line (rating.Facts); the finance views read these and never a line's
-- description, which is written for humans.

-- The columns. Defaults keep every existing row readable; on a cluster the
-- storage table and the Distributed table both get them.
ALTER TABLE {tables:invoice_lines}{on_cluster}
    ADD COLUMN IF NOT EXISTS plan String DEFAULT '' COMMENT 'plan of the subscription the line bills (credit lines: the replaced one)',
    ADD COLUMN IF NOT EXISTS term LowCardinality(String) DEFAULT '' COMMENT 'monthly, annual or multi_year, of that subscription',
    ADD COLUMN IF NOT EXISTS seat_type LowCardinality(String) DEFAULT '' COMMENT 'seats and committed_seats lines',
    ADD COLUMN IF NOT EXISTS meter LowCardinality(String) DEFAULT '' COMMENT 'subscription, seats, ai_credits or ai_packs (adjustments: of the kind adjusted)',
    ADD COLUMN IF NOT EXISTS used Decimal(38, 9) DEFAULT 0 COMMENT 'seats: the peak; ai_overage: credits consumed in subscribed time',
    ADD COLUMN IF NOT EXISTS included Decimal(38, 9) DEFAULT 0 COMMENT 'seats: seats included; ai_overage: the credit allowance',
    ADD COLUMN IF NOT EXISTS committed Decimal(38, 9) DEFAULT 0 COMMENT 'seats, committed_seats: seats committed on a prepaid term',
    ADD COLUMN IF NOT EXISTS from_packs Decimal(38, 9) DEFAULT 0 COMMENT 'ai_overage: credits drawn from packs',
    ADD COLUMN IF NOT EXISTS pack_credits Decimal(38, 9) DEFAULT 0 COMMENT 'ai_pack: credits of the pack bought';

-- ONE-TIME BACKFILL of the lines stored before this migration, and of no
-- other: every line Tally writes from now on has a meter, so `meter = ''`
-- selects exactly the old rows. It reads the description and item the
-- rating engine wrote (aggregators/rating: monthly.go, prepaid.go), the
-- same text the views of 0004 parsed at every query, once, so the figures
-- of old invoices stay what they were. This is the only place a
-- description is read; no view does. Facts the old views never needed
-- (plan and term of usage lines, for instance) stay empty on old rows.
ALTER TABLE {table:invoice_lines}{on_cluster}
UPDATE
    meter = multiIf(if(kind = 'adjustment', adjusts, kind) = 'ai_overage', 'ai_credits',
                    if(kind = 'adjustment', adjusts, kind) = 'seats', 'seats',
                    if(kind = 'adjustment', adjusts, kind) = 'ai_pack', 'ai_packs',
                    'subscription'),
    plan = if(if(kind = 'adjustment', adjusts, kind) = 'base', replaceRegexpOne(item, '^(credit:)?base:', ''), ''),
    term = multiIf(if(kind = 'adjustment', adjusts, kind) = 'base' AND extract(description, '\\(([a-z_]+) term\\)') != '',
                   extract(description, '\\(([a-z_]+) term\\)'),
                   if(kind = 'adjustment', adjusts, kind) = 'discount', replaceRegexpOne(item, '^(credit:)?discount:', ''),
                   if(kind = 'adjustment', adjusts, kind) IN ('base', 'addon') AND match(period, '^[0-9]{4}-[0-9]{2}$'), 'monthly',
                   ''),
    seat_type = if(if(kind = 'adjustment', adjusts, kind) IN ('seats', 'committed_seats'),
                   replaceRegexpOne(item, '^(credit:)?(committed_)?seats:', ''), ''),
    used = multiIf(if(kind = 'adjustment', adjusts, kind) = 'ai_overage', toDecimal128OrZero(extract(description, ': ([0-9.]+) consumed'), 9),
                   if(kind = 'adjustment', adjusts, kind) = 'seats', toDecimal128OrZero(extract(description, ': peak ([0-9]+)'), 9),
                   toDecimal128(0, 9)),
    included = if(if(kind = 'adjustment', adjusts, kind) IN ('ai_overage', 'seats'),
                  toDecimal128OrZero(extract(description, ', ([0-9.]+) included'), 9), toDecimal128(0, 9)),
    committed = multiIf(if(kind = 'adjustment', adjusts, kind) = 'seats', toDecimal128OrZero(extract(description, ', ([0-9]+) committed'), 9),
                        kind = 'committed_seats', toDecimal128OrZero(extract(description, '^([0-9]+) committed'), 9),
                        toDecimal128(0, 9)),
    from_packs = if(if(kind = 'adjustment', adjusts, kind) = 'ai_overage',
                    toDecimal128OrZero(extract(description, ', ([0-9.]+) from packs'), 9), toDecimal128(0, 9)),
    pack_credits = if(kind = 'ai_pack', toDecimal128OrZero(extract(description, ': ([0-9.]+) credits, bought'), 9), toDecimal128(0, 9))
WHERE meter = ''
SETTINGS mutations_sync = 2;

-- The views of 0004 that read a description or parsed an item, now reading
-- the columns; everything else in them is unchanged.

-- Discounts given: the term discounted is the line's term; credit lines
-- (an upgrade giving back part of an earlier discount) carry the credit
-- flag.
CREATE OR REPLACE VIEW finance_discounts{on_cluster} AS
SELECT
    i.period AS period,
    i.currency AS currency,
    i.plan AS plan,
    l.term AS term,
    has(l.flags, 'credit') AS credit,
    -l.unit_price AS rate,
    uniqExact(l.invoice_id) AS invoices,
    uniqExact(l.tenant) AS tenants,
    sum(l.quantity) AS discounted_fees,
    -sum(l.amount) AS discount_given
FROM invoice_lines AS l FINAL
INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
WHERE l.kind = 'discount'
GROUP BY period, currency, plan, term, credit, rate
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Monthly recurring revenue per tenant and month (definition in 0004 and
-- docs/finance.md): plan and term of the base line's columns (credit lines
-- of an upgrade carry the old plan), else the plan of finance_invoices;
-- term monthly for monthly invoices.
CREATE OR REPLACE VIEW finance_mrr_tenants{on_cluster} AS
SELECT
    period,
    tenant,
    currency,
    plan,
    term,
    sum(monthly) AS mrr,
    sum(monthly) * 12 AS arr
FROM
(
    SELECT
        tenant,
        currency,
        if(base_plan != '', base_plan, invoice_plan) AS plan,
        term,
        arrayJoin(months) AS period,
        if(prepaid, net / if(base_months = 0, toDecimal128(1, 9), base_months), net) AS monthly
    FROM
    (
        SELECT
            l.invoice_id AS invoice_id,
            any(l.tenant) AS tenant,
            any(i.currency) AS currency,
            any(i.plan) AS invoice_plan,
            i.invoice_kind != 'monthly' AS prepaid,
            has(l.flags, 'credit') AS credit,
            l.period AS line_period,
            argMaxIf(l.plan, abs(l.amount), l.kind = 'base' OR l.adjusts = 'base') AS base_plan,
            if(prepaid, argMaxIf(l.term, abs(l.amount), l.kind = 'base'), 'monthly') AS term,
            anyIf(abs(l.quantity), l.kind = 'base') AS base_months,
            sum(l.amount) AS net,
            any(i.issued_at) AS issued_at,
            if(prepaid,
               arrayMap(k -> formatDateTime(addMonths(toStartOfMonth(greatest(
                        parseDateTime64BestEffort(splitByChar('/', line_period)[1], 9, 'UTC'),
                        toDateTime64(issued_at, 9, 'UTC')), 'UTC'), k), '%Y-%m'),
                        range(toUInt32(greatest(0, dateDiff('month',
                            toStartOfMonth(greatest(parseDateTime64BestEffort(splitByChar('/', line_period)[1], 9, 'UTC'),
                                                    toDateTime64(issued_at, 9, 'UTC')), 'UTC'),
                            toStartOfMonth(parseDateTime64BestEffort(splitByChar('/', line_period)[2], 9, 'UTC'), 'UTC')))))),
               [line_period]) AS months
        FROM invoice_lines AS l FINAL
        INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
        WHERE l.kind IN ('base', 'addon', 'committed_seats', 'discount')
           OR (l.kind = 'adjustment' AND l.adjusts IN ('base', 'addon', 'committed_seats', 'discount'))
        GROUP BY invoice_id, prepaid, credit, line_period
    )
)
GROUP BY period, tenant, currency, plan, term
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- AI credits per tenant and month against what was billed for them: the
-- allowance and the credits from packs are the ai_overage line's
-- `included` and `from_packs` columns.
CREATE OR REPLACE VIEW finance_ai_allowance{on_cluster} AS
SELECT
    period,
    tenant,
    o.currency AS currency,
    c.credits AS credits_consumed,
    multiIf(o.lines > 0, o.included, o.billed > 0, c.credits, toDecimal128(0, 9)) AS allowance_used,
    o.packs AS from_packs,
    o.overage_credits AS overage_credits,
    o.overage_billed AS overage_billed
FROM
(
    SELECT subject AS tenant, formatDateTime(time, '%Y-%m') AS period, sum(credits) AS credits
    FROM events FINAL
    WHERE type = 'ai.credits.consumed'
    GROUP BY tenant, period
) AS c
FULL OUTER JOIN
(
    SELECT
        tenant,
        period,
        max(currency) AS currency,
        max(billed) AS billed,
        sum(is_line) AS lines,
        max(included_credits) AS included,
        max(pack_credits) AS packs,
        sum(credits) AS overage_credits,
        sum(amount) AS overage_billed
    FROM
    (
        SELECT tenant, period, currency, 1 AS billed, 0 AS is_line,
               toDecimal128(0, 9) AS included_credits, toDecimal128(0, 9) AS pack_credits,
               toDecimal128(0, 9) AS credits, toDecimal128(0, 9) AS amount
        FROM finance_invoices
        WHERE invoice_kind = 'monthly'
        UNION ALL
        SELECT
            l.tenant AS tenant,
            l.period AS period,
            i.currency AS currency,
            0 AS billed,
            l.kind = 'ai_overage' AS is_line,
            if(l.kind = 'ai_overage', l.included, toDecimal128(0, 9)) AS included_credits,
            if(l.kind = 'ai_overage', l.from_packs, toDecimal128(0, 9)) AS pack_credits,
            if(l.kind = 'ai_overage', l.quantity, toDecimal128(0, 9)) AS credits,
            l.amount AS amount
        FROM invoice_lines AS l FINAL
        INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
        WHERE l.kind = 'ai_overage' OR (l.kind = 'adjustment' AND l.adjusts = 'ai_overage')
    )
    GROUP BY tenant, period
) AS o USING (tenant, period)
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Reconciliation, billing side: the meter of a line is its `meter`
-- column (an adjustment's: of the kind adjusted).
CREATE OR REPLACE VIEW finance_invoice_chain{on_cluster} AS
SELECT
    l.tenant AS tenant,
    l.month AS period,
    l.meter AS meter,
    e.events AS events,
    e.credits AS credits,
    e.first_seq AS first_stream_seq,
    e.last_seq AS last_stream_seq,
    l.invoice_id AS invoice_id,
    l.line_no AS line_no,
    l.kind AS kind,
    l.item AS item,
    l.amount AS amount,
    l.invoice_kind AS invoice_kind,
    l.invoice_period AS invoice_period,
    l.status AS status,
    l.stripe_customer_id AS stripe_customer_id,
    l.stripe_invoice_id AS stripe_invoice_id
FROM
(
    SELECT
        l.tenant AS tenant,
        if(match(l.period, '^[0-9]{4}-[0-9]{2}$'), l.period, i.period) AS month,
        l.meter AS meter,
        l.invoice_id AS invoice_id,
        l.line_no AS line_no,
        l.kind AS kind,
        l.item AS item,
        l.amount AS amount,
        i.invoice_kind AS invoice_kind,
        i.period AS invoice_period,
        i.status AS status,
        i.stripe_customer_id AS stripe_customer_id,
        i.stripe_invoice_id AS stripe_invoice_id
    FROM invoice_lines AS l FINAL
    INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
) AS l
LEFT JOIN
(
    SELECT
        subject AS tenant,
        formatDateTime(time, '%Y-%m') AS month,
        multiIf(type = 'ai.credits.consumed', 'ai_credits',
                type IN ('seat.assigned', 'seat.released'), 'seats',
                type = 'ai.credits.pack_purchased', 'ai_packs',
                'subscription') AS meter,
        count() AS events,
        sum(credits) AS credits,
        min(stream_seq) AS first_seq,
        max(stream_seq) AS last_seq
    FROM events FINAL
    WHERE type IN ('ai.credits.consumed', 'ai.credits.pack_purchased', 'seat.assigned', 'seat.released',
                   'subscription.started', 'subscription.changed', 'subscription.canceled')
    GROUP BY tenant, month, meter
) AS e ON l.tenant = e.tenant AND l.month = e.month AND l.meter = e.meter
SETTINGS do_not_merge_across_partitions_select_final = 1;
