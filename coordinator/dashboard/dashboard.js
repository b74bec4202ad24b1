// The migr dashboard: polls migrd's JSON API every two seconds and draws
// tables and line charts (hand-written SVG: a few polylines need no library,
// and the page works on clusters without internet access).
'use strict';

const POLL_MS = 2000;
const COLORS = ['#3e7bfa', '#e8590c', '#2b8a3e', '#862e9c', '#c92a2a'];
// The metrics a run's charts show, in order, when the run recorded them.
const RUN_CHARTS = [
  ['loss', ['loss']],
  ['reward', ['reward_mean']],
  ['KL', ['kl']],
  ['learning rate', ['lr']],
];
const BINS = ['war', 'uar', 'format_rate', 'correct_consistent', 'correct_inconsistent',
              'wrong_consistent', 'wrong_inconsistent', 'mi_order_agreement', 'grounding'];

// Errors are shown on the page too, where a test can read them.
window.addEventListener('error', e => report(e.message));
window.addEventListener('unhandledrejection', e => report(String(e.reason)));
function report(msg) {
  const box = document.getElementById('errors');
  box.hidden = false;
  box.textContent += msg + '\n';
}

// Beyond loopback the API needs a bearer token: open the page as
// http://HOST:PORT/#token=TOKEN; the token stays in this tab's session
// storage and leaves the address bar.
const token = (() => {
  const m = location.hash.match(/token=([0-9a-fA-F]+)/);
  if (m) {
    sessionStorage.setItem('migr-token', m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('migr-token');
})();

async function get(path) {
  const headers = token ? {Authorization: 'Bearer ' + token} : {};
  const r = await fetch(path, {cache: 'no-store', headers});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.onclick = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function age(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

const pct = v => (typeof v === 'number' ? (100 * v).toFixed(2) + '%' : '');

// A table of rows; cols are [heading, row => cell text or node, class].
function table(rows, cols, pick, chosen) {
  if (!rows.length) return el('p', {class: 'empty'}, 'none');
  const t = el('table');
  const head = t.createTHead().insertRow();
  for (const [h] of cols) head.append(el('th', {}, h));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (pick) {
      tr.className = 'pick' + (chosen && chosen(row) ? ' chosen' : '');
      tr.onclick = () => pick(row);
    }
    for (const [, cell, cls] of cols) {
      const td = tr.insertCell();
      const v = cell(row);
      td.append(v instanceof Node ? v : String(v === null || v === undefined ? '' : v));
      if (cls) td.className = typeof cls === 'function' ? cls(row) : cls;
    }
  }
  return t;
}

// A line chart of series [{name, points: [[x, y], ...]}] into a figure.
function chart(title, series, key) {
  const W = 320, H = 150, L = 46, R = 8, T = 8, B = 22;
  const all = series.flatMap(s => s.points);
  const fig = el('figure');
  fig.append(el('figcaption', {}, title));
  const box = svg('svg', {class: 'chart', width: W, height: H, 'data-chart': key,
                          'data-points': String(all.length)});
  fig.append(box);
  if (!all.length) return fig;
  const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.05 || 1; y1 += Math.abs(y1) * 0.05 || 1; }
  const px = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const py = y => T + (y1 - y) / (y1 - y0) * (H - T - B);
  box.append(svg('line', {class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B}));
  box.append(svg('line', {class: 'axis', x1: L, y1: T, x2: L, y2: H - B}));
  const label = (x, y, text, anchor) => {
    const t = svg('text', {x, y, 'text-anchor': anchor});
    t.textContent = text;
    box.append(t);
  };
  const fmt = v => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : +v.toFixed(3));
  label(L - 4, T + 8, fmt(y1), 'end');
  label(L - 4, H - B, fmt(y0), 'end');
  label(L, H - 6, fmt(x0), 'start');
  label(W - R, H - 6, fmt(x1), 'end');
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    box.append(svg('polyline', {stroke: color, points: s.points.map(p => px(p[0]) + ',' + py(p[1])).join(' ')}));
    if (s.points.length <= 60)
      for (const p of s.points) box.append(svg('circle', {cx: px(p[0]), cy: py(p[1]), r: 2, fill: color}));
    if (series.length > 1) {
      const t = svg('text', {x: W - R, y: T + 10 + 11 * i, 'text-anchor': 'end', fill: color});
      t.textContent = s.name;
      box.append(t);
    }
  });
  return fig;
}

function progress(run) {
  const f = run.steps ? Math.min(1, run.step / run.steps) : 0;
  const bar = el('span', {class: 'bar'}, el('span', {style: 'width:' + (100 * f).toFixed(1) + '%'}));
  return el('span', {}, bar, ' ' + run.step + '/' + run.steps);
}

// The run named by the URL's #run=ID, if any.
function chosenRun() {
  const m = /run=(\d+)/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

async function drawRun(id) {
  const panel = document.getElementById('run-panel');
  if (id === null) {
    panel.hidden = true;
    return;
  }
  const [run, steps] = await Promise.all([get('/api/v1/runs/' + id), get('/api/v1/runs/' + id + '/metrics')]);
  panel.hidden = false;
  document.getElementById('run-title').textContent = 'Run ' + run.id + ': ' + run.name + ' (' + run.kind + ')';
  document.getElementById('run-summary').textContent =
    run.state + ', step ' + run.step + ' of ' + run.steps + (run.dataset ? ', dataset ' + run.dataset : '') +
    (run.tags && run.tags.length ? ', tags ' + run.tags.join(', ') : '') + (run.error ? ': ' + run.error : '');
  const charts = document.getElementById('run-charts');
  charts.replaceChildren();
  for (const [title, names] of RUN_CHARTS) {
    const series = names.map(n => ({name: n, points: steps.filter(s => typeof s[n] === 'number').map(s => [s.step, s[n]])}))
                        .filter(s => s.points.length);
    if (series.length) charts.append(chart(title, series, names[0]));
  }
  const ev = document.getElementById('run-eval');
  ev.replaceChildren();
  if (run.eval && run.eval.metrics) {
    const m = run.eval.metrics;
    ev.append(table(BINS.filter(k => k in m).map(k => ({k, v: m[k], ci: (m.ci || {})[k]})), [
      ['metric', r => r.k],
      ['value', r => pct(r.v), 'num'],
      ['95% interval', r => (r.ci ? pct(r.ci[0]) + ' .. ' + pct(r.ci[1]) : ''), 'num'],
    ]));
  }
}

// The details of the rows a list shows, fetched only when they can have
// changed since the last poll: a row's detail is fetched again when the row
// itself changed, or when stale(detail) says the detail holds something the
// row does not show.  cache maps key(row) to {row, detail} and keeps the rows
// of the last call only, so a poll's requests do not grow with the rows
// whose details stay the same (finished runs, above all).
async function details(cache, rows, key, path, stale) {
  const got = await Promise.all(rows.map(row => {
    const seen = cache.get(key(row)), text = JSON.stringify(row);
    if (seen && seen.row === text && !stale(seen.detail)) return seen;
    return get(path(row)).then(detail => ({row: text, detail}));
  }));
  cache.clear();
  rows.forEach((row, i) => cache.set(key(row), got[i]));
  return got.map(g => g.detail);
}

const FINAL = ['succeeded', 'failed', 'cancelled'];
const evalDetails = new Map(), scheduleDetails = new Map();

async function drawEvals() {
  const runs = await get('/api/v1/runs?kind=eval&limit=20');
  // An eval's checkpoint and metrics are written with its state, so its
  // detail changes only with its row in the list (and a finished one never).
  const full = await details(evalDetails, runs, r => r.id, r => '/api/v1/runs/' + r.id, () => false);
  const m = r => (r.eval && r.eval.metrics) || {};
  document.getElementById('evals').replaceChildren(table(full.reverse(), [
    ['run', r => r.id, 'num'],
    ['state', r => r.state, r => r.state],
    ['checkpoint', r => (r.eval ? 'run ' + (r.eval.source_run || '?') + ' step ' + r.eval.ckpt_step : '')],
    ['dataset', r => r.dataset],
    ['WAR', r => pct(m(r).war), 'num'],
    ['UAR', r => pct(m(r).uar), 'num'],
    ['right, consistent', r => pct(m(r).correct_consistent), 'num'],
    ['right, inconsistent', r => pct(m(r).correct_inconsistent), 'num'],
    ['wrong, consistent', r => pct(m(r).wrong_consistent), 'num'],
    ['wrong, inconsistent', r => pct(m(r).wrong_inconsistent), 'num'],
  ], r => { location.hash = 'run=' + r.id; }, r => r.id === chosenRun()));
}

async function drawSchedules() {
  const list = await get('/api/v1/schedules');
  document.getElementById('schedules').replaceChildren(table(list, [
    ['name', s => s.name],
    ['cron', s => s.cron],
    ['zone', s => s.tz],
    ['policy', s => s.policy],
    ['next firing', s => (s.paused ? 'paused' : s.next || 'never')],
    ['last run', s => s.last_run],
    ['fired', s => s.fired, 'num'],
    ['missed', s => s.missed, 'num'],
    ['skipped', s => s.skipped, 'num'],
    ['last error', s => s.last_error || ''],
  ]));
  // A schedule's row changes when it fires (fired, last_run); the history
  // also holds its runs' states and metrics, which change without the row
  // while one of them has not finished.
  const shown = await details(scheduleDetails, list.slice(0, 6), s => s.name,
                              s => '/api/v1/schedules/' + encodeURIComponent(s.name),
                              s => s.history.some(h => !FINAL.includes(h.state)));
  const box = document.getElementById('schedule-charts');
  box.replaceChildren();
  for (const s of shown) {
    const nights = s.history.filter(h => h.metrics).reverse();
    if (!nights.length) continue;
    const series = ['war', 'uar', 'correct_inconsistent'].map(k => ({
      name: k, points: nights.map((h, i) => [i + 1, h.metrics[k]]),
    }));
    box.append(chart(s.name + ': WAR, UAR, right but inconsistent, per firing', series, 'schedule-' + s.name));
  }
}

async function drawTables() {
  const [runs, workers, datasets] = await Promise.all([
    get('/api/v1/runs?limit=50'), get('/api/v1/workers'), get('/api/v1/datasets')]);
  document.getElementById('runs').replaceChildren(table(runs.reverse(), [
    ['id', r => r.id, 'num'],
    ['name', r => r.name],
    ['kind', r => r.kind],
    ['state', r => r.state, r => r.state],
    ['progress', r => progress(r)],
    ['age', r => age(r.created_ms), 'num'],
    ['dataset', r => r.dataset],
    ['tags', r => (r.tags || []).join(', ')],
    ['schedule', r => r.schedule || ''],
    ['error', r => r.error || ''],
  ], r => { location.hash = 'run=' + r.id; }, r => r.id === chosenRun()));
  document.getElementById('workers').replaceChildren(table(workers, [
    ['id', w => w.id],
    ['host', w => w.host],
    ['state', w => w.state, w => w.state],
    ['tasks', w => w.tasks + ' of ' + w.concurrency, 'num'],
    ['working on', w => w.current || 'nothing'],
    ['last heartbeat', w => age(w.last_seen_ms) + ' ago', 'num'],
  ]));
  document.getElementById('datasets').replaceChildren(table(datasets, [
    ['name', d => d.name],
    ['state', d => d.state, d => d.state],
    ['clips', d => d.clips, 'num'],
    ['featurized', d => d.featurized, 'num'],
    ['failed', d => d.failed, d => (d.failed ? 'num failed' : 'num')],
  ]));
}

async function poll() {
  const status = document.getElementById('status');
  try {
    await Promise.all([drawTables(), drawEvals(), drawSchedules(), drawRun(chosenRun())]);
    status.className = '';
    status.textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    status.className = 'err';
    status.textContent = 'cannot read migrd: ' + e.message;
    report(e.message);
  }
  setTimeout(poll, POLL_MS);
}

window.addEventListener('hashchange', () => drawRun(chosenRun()).catch(e => report(e.message)));
poll();
