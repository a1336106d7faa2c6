// Tally finance dashboard. Reads GET /v1/reports/trend with the finance key
// kept in sessionStorage and shows headline figures, charts (Chart.js) and
// the latest invoices and payouts. Money arrives as decimal strings and is
// displayed as such: numbers are made from it only to hand to the charts.
'use strict';

(function () {
  const { KEY, $, setState, status, askForKey, grouped, KeyRefused } = tally;
  const api = (path) => tally.api(path, (said) => 'This key is not a finance key (' + said + '). Enter a key with the finance role.');
  const palette = ['#2f6fdf', '#e07b39', '#3a9d6b', '#9b59b6', '#c0392b', '#16a0a8', '#7f8c8d', '#d4a017'];
  const charts = {};
  let trend = null;

  // ---- months ("YYYY-MM") ----

  function addMonths(month, n) {
    const [y, m] = month.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1 + n, 1)).toISOString().slice(0, 7);
  }

  // ---- decimal strings, never floats ----

  const money = (amount, currency) => grouped(amount) + ' ' + currency;

  async function load() {
    const from = $('from').value, to = $('to').value;
    if (!from || !to || from > to) {
      status('Choose a range: "from" must be a month at or before "to".');
      return;
    }
    const url = new URL(location.href);
    url.searchParams.set('from', from);
    url.searchParams.set('to', to);
    history.replaceState(null, '', url);
    status('Loading ' + from + ' to ' + to + '…');
    setState('loading');
    try {
      trend = await api('/v1/reports/trend?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to));
    } catch (err) {
      if (err instanceof KeyRefused) { askForKey(err.message); return; }
      status('Could not load the figures: ' + err.message);
      setState('error');
      return;
    }
    $('login').hidden = true;
    $('board').hidden = false;
    fillCurrencies();
    render();
    status('Figures from ' + trend.from + ' to ' + trend.to + '; headline figures for ' + trend.to + '.');
    setState('loaded');
  }

  function fillCurrencies() {
    const sel = $('currency');
    const keep = sel.value;
    const codes = [...new Set(trend.totals.map((t) => t.currency))];
    sel.replaceChildren(...codes.map((c) => new Option(c, c)));
    if (codes.includes(keep)) sel.value = keep;
  }

  // ---- rendering ----

  function render() {
    const cur = $('currency').value;
    renderKPIs(cur);
    renderCharts(cur);
    renderInvoices();
    renderPayouts();
  }

  function renderKPIs(cur) {
    const t = trend.totals.find((x) => x.period === trend.to && x.currency === cur);
    const box = $('kpis');
    if (!t) {
      const p = document.createElement('p');
      p.textContent = 'No billed or marketplace figures in this range.';
      box.replaceChildren(p);
      return;
    }
    const cards = [
      ['MRR', money(t.mrr, cur), 'ARR ' + money(t.arr, cur)],
      ['Billed revenue', money(t.billed, cur), 'invoices of ' + t.period],
      ['Marketplace GMV', money(t.gmv, cur), 'platform fee ' + money(t.platform_fee, cur)],
      ['Take rate', t.take_rate_percent + ' %', 'platform fee ÷ net sales'],
      ['Owed to providers', money(t.owed_to_providers, cur), 'held + available at month end'],
    ];
    box.replaceChildren(...cards.map(([label, value, note]) => {
      const div = document.createElement('div');
      div.className = 'kpi';
      div.dataset.kpi = label;
      for (const [cls, text] of [['label', label + ' · ' + t.period], ['value', value], ['note', note]]) {
        const el = document.createElement('div');
        el.className = cls;
        el.textContent = text;
        div.appendChild(el);
      }
      return div;
    }));
  }

  // series turns rows into one dataset per name: values (numbers, for
  // plotting only) and the API's strings (for the tooltips).
  function series(rows, nameOf, valueOf) {
    const byName = new Map();
    for (const r of rows) {
      const name = nameOf(r);
      if (!byName.has(name)) byName.set(name, new Map());
      byName.get(name).set(r.period, valueOf(r));
    }
    return [...byName].map(([name, byMonth], i) => ({
      label: name,
      strings: trend.months.map((m) => byMonth.get(m) || '0'),
      data: trend.months.map((m) => Number(byMonth.get(m) || '0')),
      backgroundColor: palette[i % palette.length] + 'cc',
      borderColor: palette[i % palette.length],
    }));
  }

  function draw(id, type, datasets, options) {
    if (typeof Chart === 'undefined') return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), {
      type,
      data: { labels: trend.months, datasets },
      options: Object.assign({
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: {
          tooltip: { callbacks: { label: (c) => c.dataset.label + ': ' + (c.dataset.strings ? c.dataset.strings[c.dataIndex] : c.formattedValue) } },
        },
      }, options),
    });
  }

  const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } };
  const plan = (r) => r.plan || '(no plan)';

  function renderCharts(cur) {
    const inCur = (rows) => rows.filter((r) => r.currency === cur);
    draw('chart-mrr', 'line', series(inCur(trend.mrr), plan, (r) => r.mrr).map((d) => Object.assign(d, { fill: true })), stacked);
    draw('chart-revenue', 'bar', series(inCur(trend.revenue), plan, (r) => r.amount), stacked);
    draw('chart-ai', 'bar', series(trend.ai_credits, (r) => r.feature || '(no feature)', (r) => r.credits), stacked);

    const market = inCur(trend.marketplace);
    const gmv = series(market, () => 'GMV', (r) => r.gmv);
    const take = series(inCur(trend.totals), () => 'Take rate %', (r) => r.take_rate_percent).map((d) => Object.assign(d, {
      type: 'line', yAxisID: 'rate', borderColor: '#c0392b', backgroundColor: '#c0392b',
    }));
    draw('chart-gmv', 'bar', gmv.concat(take), {
      scales: {
        y: { beginAtZero: true, title: { display: true, text: cur } },
        rate: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'take rate %' } },
      },
    });

    const liab = inCur(trend.provider_liabilities);
    const lines = [['Owed to providers', 'owed_to_providers'], ['Held', 'held'], ['Available', 'available'], ['Paid out', 'paid']]
      .flatMap(([label, field]) => series(liab, () => label, (r) => r[field]));
    lines.forEach((d, i) => { d.borderColor = palette[i]; d.backgroundColor = palette[i]; });
    draw('chart-liabilities', 'line', lines, {});
  }

  function badge(statusText) {
    const span = document.createElement('span');
    const cls = { sent: 'ok', paid: 'ok', send_failed: 'bad', failed: 'bad' }[statusText] || 'wait';
    span.className = 'badge ' + cls;
    span.textContent = statusText;
    return span;
  }

  function fillTable(id, rows, cellsOf, emptyText) {
    const body = $(id).tBodies[0];
    if (rows.length === 0) {
      const td = document.createElement('td');
      td.colSpan = $(id).tHead.rows[0].cells.length;
      td.className = 'empty';
      td.textContent = emptyText;
      body.replaceChildren(document.createElement('tr'));
      body.rows[0].appendChild(td);
      return;
    }
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement('tr');
      for (const cell of cellsOf(row)) {
        const td = document.createElement('td');
        if (cell instanceof Node) td.appendChild(cell);
        else if (cell && cell.num) { td.className = 'num'; td.textContent = cell.num; }
        else td.textContent = cell;
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  const day = (ts) => ts.slice(0, 10);

  function renderInvoices() {
    fillTable('invoices', trend.invoices, (i) => [
      day(i.issued_at), i.id, i.tenant, i.period, i.kind, plan(i), { num: money(i.total, i.currency) },
      badge(i.status), i.stripe_invoice_id || (i.status_reason ? '— ' + i.status_reason : '—'),
    ], 'No invoices in this range.');
  }

  function renderPayouts() {
    fillTable('payouts', trend.payouts, (p) => [
      day(p.as_of), p.id, p.provider, { num: money(p.amount, p.currency) },
      badge(p.status), p.stripe_transfer_id || (p.status_reason ? '— ' + p.status_reason : '—'),
    ], 'No payouts in this range.');
  }

  // ---- start ----

  function start() {
    $('nochart').hidden = typeof Chart !== 'undefined';
    const q = new URLSearchParams(location.search);
    const now = new Date().toISOString().slice(0, 7);
    $('to').value = q.get('to') || now;
    $('from').value = q.get('from') || addMonths($('to').value, -11);

    $('range').addEventListener('submit', (e) => { e.preventDefault(); if (sessionStorage.getItem(KEY)) load(); });
    $('currency').addEventListener('change', () => { if (trend) render(); });
    $('forget').addEventListener('click', () => askForKey(''));
    $('keyform').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      load();
    });

    if (sessionStorage.getItem(KEY)) load();
    else askForKey('');
  }

  start();
})();
