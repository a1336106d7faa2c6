-- Finance views (docs/finance.md): plain views over the stored tables,
-- computed at query time, FINAL on every ReplacingMergeTree so a row stored
-- twice counts once. Money stays Decimal(38, 9) throughout; never Float.
-- Periods are 'YYYY-MM' strings, like invoices.period.
-- Views reading `events` set do_not_merge_across_partitions_select_final:
-- copies of one event have the same time, hence the same month partition,
-- so FINAL need not merge across partitions (several times faster on
-- 10 million events, see docs/finance.md).

-- Every invoice (latest version) with the plan and term of the tenant's
-- subscription in effect when it was issued: the latest subscription.started
-- or subscription.changed event at or before issued_at (for a monthly
-- invoice, strictly before the end of its period).
CREATE VIEW IF NOT EXISTS finance_invoices{on_cluster} AS
SELECT
    i.invoice_id AS invoice_id,
    i.tenant AS tenant,
    i.period AS period,
    i.kind AS invoice_kind,
    i.currency AS currency,
    i.subtotal AS subtotal,
    i.discount AS discount,
    i.total AS total,
    i.status AS status,
    i.status_reason AS status_reason,
    i.stripe_customer_id AS stripe_customer_id,
    i.stripe_invoice_id AS stripe_invoice_id,
    i.issued_at AS issued_at,
    s.plan AS plan,
    s.term AS term
FROM
(
    SELECT *,
        if(kind = 'monthly',
           toDateTime64(issued_at, 9, 'UTC') - toIntervalNanosecond(1),
           toDateTime64(issued_at, 9, 'UTC')) AS plan_at
    FROM invoices FINAL
    WHERE status != 'draft'
) AS i
ASOF LEFT JOIN
(
    SELECT
        subject AS tenant,
        time AS at,
        JSONExtractString(payload, 'data', 'plan') AS plan,
        JSONExtractString(payload, 'data', 'term') AS term
    FROM events FINAL
    WHERE type IN ('subscription.started', 'subscription.changed')
) AS s ON i.tenant = s.tenant AND i.plan_at >= s.at
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Billed revenue: invoice lines summed by the invoice's period, currency,
-- plan and term, the invoice kind and the line kind (adjusts: for
-- adjustment lines, the kind adjusted).
CREATE VIEW IF NOT EXISTS finance_billed_revenue{on_cluster} AS
SELECT
    i.period AS period,
    i.currency AS currency,
    i.plan AS plan,
    i.term AS term,
    i.invoice_kind AS invoice_kind,
    l.kind AS kind,
    l.adjusts AS adjusts,
    uniqExact(l.invoice_id) AS invoices,
    uniqExact(l.tenant) AS tenants,
    count() AS lines,
    sum(l.amount) AS amount
FROM invoice_lines AS l FINAL
INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
GROUP BY period, currency, plan, term, invoice_kind, kind, adjusts
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Discounts given: discount lines by period, currency, plan and term
-- discounted (monthly, annual, multi_year, from the line item). Upgrade
-- credits give part of an earlier discount back (credit = 1, negative
-- discount_given).
CREATE VIEW IF NOT EXISTS finance_discounts{on_cluster} AS
SELECT
    i.period AS period,
    i.currency AS currency,
    i.plan AS plan,
    replaceRegexpOne(l.item, '^(credit:)?discount:', '') AS term,
    startsWith(l.item, 'credit:') AS credit,
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

-- Monthly recurring revenue per tenant and month, from the recurring lines
-- billed (base, addon, committed_seats, discount, and adjustments of them):
--   * monthly terms: the net recurring amount billed for the month (base +
--     add-ons − discount, prorated for a partial month, late adjustments
--     counted in the month they adjust);
--   * prepaid terms: the net recurring amount of an upfront invoice ÷ 12,
--     of an upgrade invoice (new lines and credits of the old) ÷ its months
--     (the quantity of its base line), in every month whose end falls in
--     (effective time, contract-year end]: the subscription in effect at
--     the end of the month.
-- plan: from the base line's item (credit lines of an upgrade count against
-- the old plan), else the plan of finance_invoices; term: monthly for
-- monthly invoices, else from the base line's description.
CREATE VIEW IF NOT EXISTS finance_mrr_tenants{on_cluster} AS
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
            startsWith(l.item, 'credit:') AS credit,
            l.period AS line_period,
            argMaxIf(replaceRegexpOne(l.item, '^(credit:)?base:', ''), abs(l.amount), l.kind = 'base' OR l.adjusts = 'base') AS base_plan,
            if(prepaid,
               argMaxIf(extract(l.description, '\\(([a-z_]+) term\\)'), abs(l.amount), l.kind = 'base'),
               'monthly') AS term,
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

-- MRR and ARR by month, currency, plan and term.
CREATE VIEW IF NOT EXISTS finance_mrr{on_cluster} AS
SELECT
    t.period AS period,
    t.currency AS currency,
    t.plan AS plan,
    t.term AS term,
    uniqExactIf(t.tenant, t.mrr != 0) AS tenants,
    sum(t.mrr) AS mrr,
    sum(t.arr) AS arr
FROM finance_mrr_tenants AS t
GROUP BY period, currency, plan, term
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- AI credits consumed by month, tenant, feature and model (every
-- ai.credits.consumed event, subscribed or not).
CREATE VIEW IF NOT EXISTS finance_ai_credits{on_cluster} AS
SELECT
    formatDateTime(time, '%Y-%m') AS period,
    subject AS tenant,
    feature,
    model,
    count() AS events,
    sum(credits) AS credits
FROM events FINAL
WHERE type = 'ai.credits.consumed'
GROUP BY period, tenant, feature, model
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- AI credits per tenant and month against what was billed for them: the
-- ai_overage line of the month's invoice (and adjustments of it billed
-- later). With an overage line the allowance was used in full (the line
-- states it: "N included", and "N from packs"); with a monthly invoice but
-- no overage line every credit consumed is counted as within the
-- allowance; without a monthly invoice (not subscribed, or the month not
-- closed) nothing is.
CREATE VIEW IF NOT EXISTS finance_ai_allowance{on_cluster} AS
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
            if(l.kind = 'ai_overage', toDecimal128OrZero(extract(l.description, ', ([0-9.]+) included'), 9), toDecimal128(0, 9)) AS included_credits,
            if(l.kind = 'ai_overage', toDecimal128OrZero(extract(l.description, ', ([0-9.]+) from packs'), 9), toDecimal128(0, 9)) AS pack_credits,
            if(l.kind = 'ai_overage', l.quantity, toDecimal128(0, 9)) AS credits,
            l.amount AS amount
        FROM invoice_lines AS l FINAL
        INNER JOIN finance_invoices AS i ON l.invoice_id = i.invoice_id
        WHERE l.kind = 'ai_overage' OR (l.kind = 'adjustment' AND l.adjusts = 'ai_overage')
    )
    GROUP BY tenant, period
) AS o USING (tenant, period)
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- Marketplace money by month of effect and currency, from the ledger
-- (aggregators/marketplace/README.md: every amount is the change to the
-- account its kind names). net = GMV − refunds − tax = platform fee +
-- provider share; take_rate = platform fee ÷ net.
CREATE VIEW IF NOT EXISTS finance_marketplace{on_cluster} AS
SELECT
    period,
    currency,
    sales,
    refund_count,
    gmv,
    refunds,
    tax,
    gmv - refunds - tax AS net,
    platform_fee,
    provider_share,
    if(net = 0, toDecimal128(0, 9), platform_fee / if(net = 0, toDecimal128(1, 9), net)) AS take_rate
FROM
(
    SELECT
        formatDateTime(at, '%Y-%m') AS period,
        currency,
        uniqExactIf(order_id, kind = 'sale') AS sales,
        uniqExactIf(refund_id, kind = 'refund') AS refund_count,
        sumIf(amount, kind = 'sale') AS gmv,
        -sumIf(amount, kind = 'refund') AS refunds,
        sumIf(amount, kind IN ('tax', 'tax_refund')) AS tax,
        sumIf(amount, kind IN ('fee', 'fee_reversal')) AS platform_fee,
        sumIf(amount, kind IN ('share', 'share_reversal', 'clawback')) AS provider_share
    FROM ledger FINAL
    GROUP BY period, currency
);

-- Provider balances at the end of every month with an entry or a payout:
-- held = Σ held-bucket entries − hold releases; available = Σ
-- available-bucket entries (may be negative: clawback) − payouts + failed
-- payouts given back; paid = payouts − failed payouts given back.
-- Payouts come from the payouts table, not from the ledger's payout
-- entries: a run stores the ledger before it records its own payouts, so
-- the ledger shows a payout only from the next run on.
-- owed_to_providers = held + available (what Tally still owes, net);
-- negative_balance = the part of available below 0 (owed by the
-- provider). For a month without a row use the latest earlier row.
CREATE VIEW IF NOT EXISTS finance_provider_balances{on_cluster} AS
SELECT
    provider,
    currency,
    period,
    held,
    available,
    paid,
    held + available AS owed_to_providers,
    least(available, toDecimal128(0, 9)) AS negative_balance
FROM
(
    SELECT
        provider,
        currency,
        period,
        sum(held_delta) OVER w AS held,
        sum(available_delta) OVER w AS available,
        sum(paid_delta) OVER w AS paid
    FROM
    (
        SELECT provider, currency, period,
               sum(held_change) AS held_delta, sum(available_change) AS available_delta, sum(paid_change) AS paid_delta
        FROM
        (
            SELECT
                provider,
                currency,
                formatDateTime(at, '%Y-%m') AS period,
                sumIf(amount, bucket = 'held') - sumIf(amount, kind = 'hold_release') AS held_change,
                sumIf(amount, bucket = 'available' AND kind NOT IN ('payout', 'payout_failed')) AS available_change,
                toDecimal128(0, 9) AS paid_change
            FROM ledger FINAL
            GROUP BY provider, currency, period
            UNION ALL
            SELECT provider, currency, formatDateTime(as_of, '%Y-%m') AS period,
                   toDecimal128(0, 9) AS held_change, -amount AS available_change, amount AS paid_change
            FROM payouts FINAL
            UNION ALL
            SELECT provider, currency,
                   formatDateTime(if(toUnixTimestamp64Nano(failed_at) > 0, failed_at, as_of), '%Y-%m') AS period,
                   toDecimal128(0, 9) AS held_change, amount AS available_change, -amount AS paid_change
            FROM payouts FINAL
            WHERE status = 'failed'
        )
        GROUP BY provider, currency, period
    )
    WINDOW w AS (PARTITION BY provider, currency ORDER BY period ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
);

-- Provider liabilities now: the latest row of finance_provider_balances
-- (the ledger holds effects up to the as-of time of the latest payout run).
CREATE VIEW IF NOT EXISTS finance_provider_liabilities{on_cluster} AS
SELECT
    provider,
    currency,
    max(period) AS as_of_period,
    argMax(held, period) AS held,
    argMax(available, period) AS available,
    argMax(paid, period) AS paid,
    argMax(owed_to_providers, period) AS owed_to_providers,
    argMax(negative_balance, period) AS negative_balance
FROM finance_provider_balances
GROUP BY provider, currency;

-- Reconciliation, billing side: one row per invoice line with the events
-- that feed it (same tenant, the month the line bills, the event types of
-- its meter), the invoice and its Stripe ids.
CREATE VIEW IF NOT EXISTS finance_invoice_chain{on_cluster} AS
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
        multiIf(if(l.kind = 'adjustment', l.adjusts, l.kind) = 'ai_overage', 'ai_credits',
                if(l.kind = 'adjustment', l.adjusts, l.kind) = 'seats', 'seats',
                if(l.kind = 'adjustment', l.adjusts, l.kind) = 'ai_pack', 'ai_packs',
                'subscription') AS meter,
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

-- Reconciliation, marketplace side: one row per order and payout that
-- paid (or clawed back) part of it: the sale's ledger entries, the
-- statement lines of the payout that name the order or one of its
-- refunds, the payout and its Stripe transfer. An order not paid out yet
-- has one row with an empty payout_id.
CREATE VIEW IF NOT EXISTS finance_payout_chain{on_cluster} AS
SELECT
    o.provider AS provider,
    o.currency AS currency,
    o.order_id AS order_id,
    o.sale_at AS sale_at,
    o.gross AS gross,
    o.refunded AS refunded,
    o.fee AS platform_fee,
    o.share AS provider_share,
    o.entries AS ledger_entries,
    s.payout_id AS payout_id,
    s.statement_amount AS statement_amount,
    p.as_of AS payout_as_of,
    p.amount AS payout_amount,
    p.status AS payout_status,
    p.account AS account,
    p.stripe_transfer_id AS stripe_transfer_id
FROM
(
    SELECT
        provider,
        currency,
        order_id,
        minIf(at, kind = 'sale') AS sale_at,
        sumIf(amount, kind = 'sale') AS gross,
        -sumIf(amount, kind = 'refund') AS refunded,
        sumIf(amount, kind IN ('fee', 'fee_reversal')) AS fee,
        sumIf(amount, kind IN ('share', 'share_reversal', 'clawback')) AS share,
        count() AS entries
    FROM ledger FINAL
    WHERE order_id != ''
    GROUP BY provider, currency, order_id
) AS o
LEFT JOIN
(
    SELECT
        sl.payout_id AS payout_id,
        if(r.order_id != '', r.order_id, sl.ref) AS order_id,
        sum(sl.amount) AS statement_amount
    FROM payout_statement_lines AS sl FINAL
    LEFT JOIN
    (
        SELECT DISTINCT refund_id, order_id FROM ledger FINAL WHERE refund_id != ''
    ) AS r ON sl.ref = r.refund_id
    WHERE sl.kind IN ('sale', 'refund', 'clawback')
    GROUP BY payout_id, order_id
) AS s ON o.order_id = s.order_id
LEFT JOIN
(
    SELECT payout_id, provider, as_of, amount, status, account, stripe_transfer_id FROM payouts FINAL
) AS p ON s.payout_id = p.payout_id AND o.provider = p.provider;

-- Complement of GET /v1/unbilled: tenants with usage events (AI credits,
-- packs, seats) in a month and no invoice at all for that period.
CREATE VIEW IF NOT EXISTS finance_unbilled_tenants{on_cluster} AS
SELECT
    formatDateTime(time, '%Y-%m') AS period,
    subject AS tenant,
    period IN (SELECT period FROM closed_periods FINAL) AS period_closed,
    countIf(type = 'ai.credits.consumed') AS ai_events,
    sumIf(credits, type = 'ai.credits.consumed') AS ai_credits,
    countIf(type IN ('seat.assigned', 'seat.released')) AS seat_events,
    countIf(type = 'ai.credits.pack_purchased') AS pack_events
FROM events FINAL
WHERE type IN ('ai.credits.consumed', 'ai.credits.pack_purchased', 'seat.assigned', 'seat.released')
GROUP BY period, tenant
HAVING (tenant, period) NOT IN (SELECT tenant, period FROM invoices FINAL)
SETTINGS do_not_merge_across_partitions_select_final = 1;
