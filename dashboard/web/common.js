// What the dashboard's pages share: the finance key kept in
// sessionStorage and the form that asks for it, the page's state and
// status line, decimal strings grouped for display (never turned into
// floats), and the API call that tells a refused key from other errors.
'use strict';

const tally = (function () {
  const KEY = 'tally.financeKey';
  const $ = (id) => document.getElementById(id);

  function setState(s) { document.body.dataset.state = s; }
  function status(msg) { $('status').textContent = msg; }

  function askForKey(message) {
    sessionStorage.removeItem(KEY);
    $('board').hidden = true;
    $('login').hidden = false;
    $('keyerror').textContent = message || '';
    $('keyerror').hidden = !message;
    $('key').value = '';
    $('key').focus();
    status('');
    setState(message ? 'key-refused' : 'key');
  }

  // grouped adds thousands separators to a decimal string: "12976.91" → "12,976.91".
  function grouped(dec) {
    const neg = dec.startsWith('-');
    const [int, frac] = (neg ? dec.slice(1) : dec).split('.');
    const g = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '-' : '') + g + (frac === undefined ? '' : '.' + frac);
  }

  class KeyRefused extends Error {}

  // api GETs path with the kept key. A 401 or 403 throws KeyRefused (the
  // 403 with forbidden(said), what the page asks for instead); any other
  // failure an Error with the server's message.
  async function api(path, forbidden) {
    const res = await fetch(path, {
      headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) },
      cache: 'no-store',
    });
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    const said = body && body.error ? body.error : res.statusText;
    if (res.status === 401) throw new KeyRefused('The server refused this key (' + said + '). Enter the finance key again.');
    if (res.status === 403) throw new KeyRefused(forbidden(said));
    if (!res.ok) throw new Error(said);
    return body;
  }

  return { KEY, $, setState, status, askForKey, grouped, KeyRefused, api };
})();
