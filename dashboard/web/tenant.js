// Tally entitlements of one tenant. Reads GET /v1/tenants/{t}/entitlements
// with the finance key the finance page keeps in sessionStorage, and shows
// the subscription, seat and AI credit gauges, the plan's matrix and the
// flags. Figures arrive as decimal strings and are shown as such; numbers
// are made from them only to set a gauge's needle.
'use strict';

(function () {
  const { KEY, $, setState, status, askForKey, grouped, KeyRefused } = tally;
  const api = (path) => tally.api(path, (said) => 'This key may not read entitlements (' + said + '). Enter a finance key.');

  async function load() {
    const tenant = $('tenant').value.trim();
    if (!tenant) { status('Enter a tenant id.'); return; }
    const url = new URL(location.href);
    url.searchParams.set('tenant', tenant);
    history.replaceState(null, '', url);
    status('Loading the entitlements of ' + tenant + '…');
    setState('loading');
    let v;
    try {
      v = await api('/v1/tenants/' + encodeURIComponent(tenant) + '/entitlements');
    } catch (err) {
      if (err instanceof KeyRefused) { askForKey(err.message); return; }
      status('Could not load the entitlements: ' + err.message);
      setState('error');
      return;
    }
    $('login').hidden = true;
    $('board').hidden = false;
    renderPlan(v);
    renderGauges(v);
    renderMatrix(v);
    renderFlags(v);
    status('Entitlements of ' + v.tenant + ' as of ' + v.as_of + ' (every event stored through ' + v.position + ').');
    setState('loaded');
  }

  function card(label, value, note) {
    const div = document.createElement('div');
    div.className = 'kpi';
    div.dataset.kpi = label;
    for (const [cls, text] of [['label', label], ['value', value], ['note', note]]) {
      const el = document.createElement('div');
      el.className = cls;
      el.textContent = text;
      div.appendChild(el);
    }
    return div;
  }

  function renderPlan(v) {
    if (!v.subscribed) {
      $('plan').replaceChildren(card('Plan', 'no subscription', 'allowed nothing'));
      return;
    }
    $('plan').replaceChildren(
      card('Plan', v.plan, 'term ' + v.term + ', ' + v.currency),
      card('Add-ons', v.addons.length ? v.addons.join(', ') : 'none', 'of the subscription now'),
      card('AI credits · ' + v.ai_credits.period, grouped(v.ai_credits.consumed), 'consumed this month'),
    );
  }

  // gauge is a labelled <meter>: value of max (both decimal strings), or a
  // figure alone when there is no max.
  function gauge(id, label, value, max, note) {
    const div = document.createElement('div');
    div.className = 'gauge';
    div.dataset.gauge = id;
    const title = document.createElement('div');
    title.className = 'label';
    title.textContent = label;
    div.appendChild(title);
    if (max !== null) {
      const m = document.createElement('meter');
      m.min = 0;
      m.max = Math.max(Number(max), 1);
      m.value = Number(value);
      m.high = m.max * 0.9;
      m.optimum = 0;
      div.appendChild(m);
    }
    const fig = document.createElement('div');
    fig.className = 'figure';
    fig.textContent = max === null ? grouped(value) + ' (no limit)' : grouped(value) + ' / ' + grouped(max);
    div.appendChild(fig);
    const n = document.createElement('div');
    n.className = 'note';
    n.textContent = note;
    div.appendChild(n);
    return div;
  }

  function renderGauges(v) {
    const out = [];
    for (const type of Object.keys(v.seats).sort()) {
      const s = v.seats[type];
      const limit = s.limit === null ? null : String(s.limit);
      let note = s.included + ' included';
      if (s.remaining !== null) note = s.remaining + ' remaining, ' + note;
      if (s.shared_with && s.shared_with.length) note += '; limit shared with ' + s.shared_with.join(', ');
      out.push(gauge('seats.' + type, type[0].toUpperCase() + type.slice(1) + ' seats', String(s.assigned), limit, note));
    }
    const ai = v.ai_credits;
    if (v.subscribed) {
      out.push(gauge('ai_credits.allowance', 'AI credits vs allowance · ' + ai.period, ai.consumed, ai.allowance,
        grouped(ai.remaining_before_overage) + ' before overage (pack credits left ' + grouped(ai.pack_credits_left) + ')'));
    }
    out.push(ai.cap === null
      ? gauge('ai_credits.cap', 'AI credits vs cap', ai.consumed, null, 'no cap set')
      : gauge('ai_credits.cap', 'AI credits vs cap', ai.consumed, ai.cap, grouped(ai.remaining_before_cap) + ' before the cap'));
    $('gauges').replaceChildren(...out);
  }

  function badge(allowed) {
    const span = document.createElement('span');
    span.className = 'badge ' + (allowed ? 'ok' : 'bad');
    span.textContent = allowed ? 'yes' : 'no';
    return span;
  }

  function fillTable(id, rows, cellsOf, emptyText) {
    const body = $(id).tBodies[0];
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = $(id).tHead.rows[0].cells.length;
      td.className = 'empty';
      td.textContent = emptyText;
      tr.appendChild(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement('tr');
      for (const cell of cellsOf(row)) {
        const td = document.createElement('td');
        if (cell instanceof Node) td.appendChild(cell);
        else td.textContent = cell;
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  function renderMatrix(v) {
    fillTable('matrix', v.capabilities, (c) => [
      c.capability, (c.value || '—') + (c.addon_active ? ' (active)' : ''), badge(c.allowed), c.reason,
    ], 'No capabilities.');
  }

  function renderFlags(v) {
    const rows = Object.keys(v.flags).sort().map((f) => ['flag ' + f, v.flags[f] ? 'on' : 'off'])
      .concat(v.seller_providers.map((p) => ['seller under ' + p, 'enrolled']));
    fillTable('flags', rows, (r) => r, 'No flags set and no seller enrolment.');
  }

  function start() {
    const q = new URLSearchParams(location.search);
    $('tenant').value = q.get('tenant') || '';
    $('pick').addEventListener('submit', (e) => { e.preventDefault(); if (sessionStorage.getItem(KEY)) load(); });
    $('forget').addEventListener('click', () => askForKey(''));
    $('keyform').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      load();
    });
    if (!sessionStorage.getItem(KEY)) askForKey('');
    else if ($('tenant').value) load();
    else { status('Enter a tenant id.'); setState('pick'); }
  }

  start();
})();
