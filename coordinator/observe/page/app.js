// The dashboard page: the live job over server-sent events (/api/events), or a past run
// (/api/runs/<name>), drawn with uPlot. Everything shown is derived from metric records (the
// lines of metrics.jsonl), so a live job and a finished run look the same.
/* global uPlot */
'use strict';

const COLORS = ['#1d4ed8', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];
const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
const int = (v) => (typeof v === 'number' ? v.toLocaleString('en-US') : '–');

const view = { mode: 'live', job: null, status: { state: 'training' }, records: [], workers: [], workersAt: 0, receivedAt: 0, runName: null };
const charts = new Map();
let events = null;
let renderTimer = null;

// ---- what the records say --------------------------------------------------------------

function runsOf(records) {
  const names = [];
  for (const r of records) if (typeof r.run === 'string' && !names.includes(r.run)) names.push(r.run);
  return names;
}

/** Per run: last step record, best validation accuracy (and its step), last test score. */
function digest(records) {
  const byRun = new Map();
  const get = (run) => byRun.get(run) ?? byRun.set(run, { lastStep: null, bestVal: null, test: null, lastEvalLoss: null }).get(run);
  for (const r of records) {
    if (r.type === 'trial') continue;
    const d = get(String(r.run));
    if (r.type === 'step' && r.skipped !== true) d.lastStep = r;
    if (r.type === 'eval' && r.split === 'validation' && typeof r.accuracy === 'number' && (d.bestVal === null || r.accuracy > d.bestVal.accuracy)) d.bestVal = r;
    if (r.type === 'eval' && r.split === 'test') d.test = r;
  }
  return byRun;
}

/** Samples per second over the last 50 steps of every run together (one step's figure jumps about). */
function throughput(records) {
  const steps = [];
  for (let i = records.length - 1; i >= 0 && steps.length < 50; i--) if (records[i].type === 'step') steps.push(records[i]);
  if (steps.length < 2) return steps[0]?.samples_per_s;
  const span = (steps[0].time - steps[steps.length - 1].time) / 1000;
  const samples = steps.slice(0, -1).reduce((a, s) => a + s.samples, 0);
  return span > 0 ? Math.round(samples / span) : undefined;
}

function series(records, runs, parts) {
  // A bagging ensemble is scored once, after its members, and its records carry no step: they
  // are drawn at the last step any member reached.
  const lastStep = records.reduce((a, r) => (typeof r.step === 'number' && r.step > a ? r.step : a), 0);
  const out = [];
  for (const run of runs) {
    for (const p of parts) {
      const pts = [];
      for (const r of records) {
        const v = p.value ? p.value(r) : r[p.field];
        if (r.run === run && p.match(r) && typeof v === 'number') pts.push([typeof r.step === 'number' ? r.step : lastStep, v]);
      }
      if (pts.length > 0) out.push({ label: runs.length > 1 ? `${run} ${p.name}`.trim() : p.name, pts });
    }
  }
  return out;
}

const isStep = (r) => r.type === 'step' && r.skipped !== true;
const isEval = (split) => (r) => r.type === 'eval' && r.split === split;

function chartSpecs(records) {
  const runs = runsOf(records);
  const splits = [...new Set(records.filter((r) => r.type === 'eval').map((r) => r.split))].sort();
  // Adversarial evaluation: accuracy under each attack, next to the clean accuracy.
  const attacks = [...new Set(records.flatMap((r) => (r.type === 'eval' && r.attacks ? Object.keys(r.attacks) : [])))];
  const underAttack = splits.flatMap((s) => attacks.map((a) => ({ name: `${s} ${a.toUpperCase()}`, value: (r) => r.attacks?.[a]?.accuracy, match: isEval(s) })));
  return [
    { id: 'loss', title: 'Training loss (mean per sample)', series: series(records, runs, [{ name: 'train', field: 'loss', match: isStep }]) },
    { id: 'eval-loss', title: 'Evaluation loss', series: series(records, runs, splits.map((s) => ({ name: s, field: 'loss', match: isEval(s) }))) },
    { id: 'accuracy', title: 'Accuracy', series: series(records, runs, [...splits.map((s) => ({ name: s, field: 'accuracy', match: isEval(s) })), ...underAttack]) },
    { id: 'grad-norm', title: 'Gradient norm, before and after clipping', series: series(records, runs, [{ name: 'before clipping', field: 'grad_norm', match: isStep }, { name: 'after clipping', field: 'grad_norm_clipped', match: isStep }]) },
    { id: 'lr', title: 'Learning rate', series: series(records, runs, [{ name: 'lr', field: 'lr', match: isStep }]) },
    { id: 'speed', title: 'Throughput (samples per second)', series: series(records, runs, [{ name: 'samples/s', field: 'samples_per_s', match: isStep }]) },
  ];
}

/** uPlot's aligned columns: the union of the series' steps, and each series' value or null there. */
function aligned(spec) {
  const xs = [...new Set(spec.series.flatMap((s) => s.pts.map((p) => p[0])))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const cols = spec.series.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const [x, y] of s.pts) col[at.get(x)] = y;
    return col;
  });
  return [xs, ...cols];
}

// ---- drawing ---------------------------------------------------------------------------

function drawCharts() {
  const box = $('charts');
  for (const spec of chartSpecs(view.records)) {
    let c = charts.get(spec.id);
    if (!c) {
      const el = document.createElement('div');
      el.className = 'chart';
      el.id = `chart-${spec.id}`;
      el.innerHTML = `<h3>${spec.title}</h3><div class="plot"></div><div class="empty">no data yet</div>`;
      box.appendChild(el);
      c = { el, plot: null, key: '' };
      charts.set(spec.id, c);
    }
    const data = aligned(spec);
    c.el.dataset.points = String(data[0].length);
    c.el.querySelector('.empty').hidden = data[0].length > 0;
    const key = spec.series.map((s) => s.label).join('|');
    if (data[0].length === 0) continue;
    if (c.plot && c.key === key) {
      c.plot.setData(data);
      continue;
    }
    c.plot?.destroy();
    c.key = key;
    const width = Math.max(300, c.el.clientWidth - 16);
    c.plot = new uPlot(
      {
        width,
        height: 220,
        scales: { x: { time: false } },
        // Labels only: a bagging job's charts carry many series, and values on hover would double the legend.
        legend: { live: false },
        axes: [{ label: 'step', size: 36, labelSize: 14 }, { size: 56 }],
        // Points are left to uPlot: drawn while a series is sparse, not once it is dense.
        series: [{ label: 'step' }, ...spec.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      },
      data,
      c.el.querySelector('.plot'),
    );
  }
}

function drawHeadline() {
  const d = digest(view.records);
  const runs = [...d.keys()];
  const training = runs.filter((r) => d.get(r).lastStep);
  const job = view.job;
  const steps = training.map((r) => d.get(r).lastStep);
  const last = steps.reduce((a, s) => (a === null || s.time > a.time ? s : a), null);
  $('fig-step').textContent = steps.length === 0 ? '–' : int(steps.reduce((a, s) => a + s.step, 0));
  $('fig-step-of').textContent = job && steps.length > 0 ? `of ${int(job.plannedSteps * Math.max(1, training.length))} planned${training.length > 1 ? `, ${training.length} runs` : ''}` : '';
  $('fig-epoch').textContent = last ? `${last.epoch + 1}${job ? ` / ${job.epochs}` : ''}` : '–';
  $('fig-loss').textContent = last ? fmt(last.loss) : '–';
  $('fig-speed').textContent = int(throughput(view.records));
  // A bagging job's own score is the ensemble's; a search's, its best trial's and its retraining's; a plain job's, its run's.
  const trials = trialTable(view.records);
  const main = d.get('ensemble') ?? (runs.length === 1 ? d.get(runs[0]) : null);
  const bestTrial = trials.length > 0 ? runs.map((r) => d.get(r).bestVal).filter(Boolean).reduce((a, v) => (a === null || v.accuracy > a.accuracy ? v : a), null) : null;
  const bestVal = bestTrial ?? main?.bestVal ?? null;
  $('fig-val-acc').textContent = bestVal ? fmt(bestVal.accuracy) : '–';
  $('fig-val-step').textContent = bestVal && d.get('ensemble') === undefined ? `${bestTrial ? `${bestTrial.run}, ` : ''}at step ${int(bestVal.step)}` : '';
  const test = (d.get('retrain-best') ?? main)?.test;
  $('fig-test-acc').textContent = test ? fmt(test.accuracy) : '–';
  drawTrials(trials, d);

  const members = $('members-section');
  members.hidden = runs.length < 2 || trials.length > 0;
  if (!members.hidden) {
    $('members').tBodies[0].innerHTML = runs
      .map((r) => {
        const m = d.get(r);
        return `<tr><td>${esc(r)}</td><td>${m.lastStep ? int(m.lastStep.step) : '–'}</td><td>${m.lastStep ? m.lastStep.epoch + 1 : '–'}</td><td>${m.lastStep ? fmt(m.lastStep.loss) : '–'}</td><td>${m.bestVal ? fmt(m.bestVal.accuracy) : '–'}</td><td>${m.test ? fmt(m.test.accuracy) : '–'}</td></tr>`;
      })
      .join('');
  }
}

/** A search's trials, folded from its events (search.jsonl): params, state, result. */
function trialTable(records) {
  const byTrial = new Map();
  for (const r of records) {
    if (r.type !== 'trial' || typeof r.trial !== 'number') continue;
    const t = byTrial.get(r.trial) ?? { trial: r.trial, run: r.run, params: {}, state: 'running', value: undefined, lastRung: undefined };
    if (r.event === 'start') t.params = r.params;
    if (r.event === 'rung') t.lastRung = `${r.decision} at ${r.step}`;
    if (r.event === 'end') Object.assign(t, { state: r.state, value: r.value, steps: r.steps });
    if (r.event === 'retrain') t.retrained = true;
    byTrial.set(r.trial, t);
  }
  return [...byTrial.values()].sort((a, b) => a.trial - b.trial);
}

function drawTrials(trials, d) {
  $('trials-section').hidden = trials.length === 0;
  if (trials.length === 0) return;
  const paths = Object.keys(trials[0].params ?? {});
  $('trials').tHead.innerHTML = `<tr><th>trial</th><th>state</th>${paths.map((p) => `<th>${esc(p)}</th>`).join('')}<th>step</th><th>best val. accuracy</th><th>ASHA</th><th>objective</th></tr>`;
  $('trials').tBodies[0].innerHTML = trials
    .map((t) => {
      const m = d.get(t.run);
      const params = paths.map((p) => `<td>${typeof t.params[p] === 'number' ? Number(t.params[p].toPrecision(4)) : esc(t.params[p])}</td>`).join('');
      return `<tr class="trial-${t.state}"><td>${t.trial}${t.retrained ? ' (retrained)' : ''}</td><td>${t.state}</td>${params}<td>${m?.lastStep ? int(m.lastStep.step) : '–'}</td><td>${m?.bestVal ? fmt(m.bestVal.accuracy) : '–'}</td><td>${t.lastRung ?? '–'}</td><td>${fmt(t.value)}</td></tr>`;
    })
    .join('');
}

function drawJob() {
  const job = view.job;
  $('job-name').textContent = job ? job.name : view.runName ?? '…';
  document.title = `${$('job-name').textContent} · gradfleet`;
  const state = view.mode === 'past' ? (view.status.summaryLines ? 'ended' : 'unfinished') : view.status.state;
  $('job-state').textContent = state;
  $('job-state').className = `state ${state}`;
  $('job-facts').textContent = job ? `job ${job.jobId} · ${int(job.parameters)} parameters · ${int(job.trainingSamples)} training samples · ${job.runDir}` : view.runName ? `past run ${view.runName}` : '';
  const lines = view.status.summaryLines;
  $('summary-section').hidden = !lines;
  $('summary').textContent = lines ? lines.join('\n') : '';
}

function drawWorkers() {
  $('workers-section').hidden = view.mode === 'past';
  const ageNow = view.workersAt + (Date.now() - view.receivedAt);
  $('workers').tBodies[0].innerHTML =
    view.workers
      .map((w) => {
        const age = Math.max(0, (ageNow - w.lastSeen) / 1000);
        return `<tr class="${w.state}"><td>${esc(w.id)}</td><td>${esc(w.name)}</td><td>${esc(w.device)}${w.threads > 0 ? ` × ${w.threads} threads` : ''}</td><td class="state-${w.state}">${w.state}</td><td>${int(w.microbatches)}</td><td>${int(w.evalTasks)}</td><td>${int(w.failures)}</td><td>${age.toFixed(1)} s ago</td></tr>`;
      })
      .join('') || '<tr><td colspan="8">no worker has registered yet</td></tr>';
}

function render() {
  renderTimer = null;
  drawJob();
  drawHeadline();
  drawCharts();
  drawWorkers();
}

function scheduleRender() {
  renderTimer ??= setTimeout(render, 200);
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

function resetCharts() {
  for (const c of charts.values()) c.plot?.destroy();
  charts.clear();
  $('charts').innerHTML = '';
}

// ---- data sources ----------------------------------------------------------------------

function connectLive() {
  view.mode = 'live';
  view.runName = null;
  resetCharts();
  events = new EventSource('/api/events');
  const conn = $('connection');
  events.addEventListener('snapshot', (e) => {
    const s = JSON.parse(e.data);
    Object.assign(view, { job: s.job, status: s.status, records: s.records, workers: s.workers, workersAt: s.at, receivedAt: Date.now() });
    conn.textContent = 'live';
    render();
  });
  events.addEventListener('record', (e) => {
    const r = JSON.parse(e.data);
    // A resumed run writes its records after the checkpoint's step again.
    if (r.type === 'resume') view.records = view.records.filter((x) => x.run !== r.run || !(x.step > r.step));
    view.records.push(r);
    scheduleRender();
  });
  events.addEventListener('workers', (e) => {
    const w = JSON.parse(e.data);
    Object.assign(view, { workers: w.workers, workersAt: w.at, receivedAt: Date.now() });
    drawWorkers();
  });
  events.addEventListener('status', (e) => {
    view.status = JSON.parse(e.data);
    render();
  });
  events.onerror = () => {
    if (view.status.state !== 'training') {
      // The job is over and its coordinator gone: keep what is shown.
      events.close();
      conn.textContent = 'coordinator exited; showing the last state';
    } else conn.textContent = 'reconnecting…';
  };
}

async function showPast(name) {
  events?.close();
  events = null;
  resetCharts();
  view.mode = 'past';
  view.runName = name;
  $('connection').textContent = 'past run';
  const res = await fetch(`/api/runs/${encodeURIComponent(name)}`);
  const body = await res.json();
  if (!res.ok) {
    $('job-facts').textContent = body.error;
    return;
  }
  Object.assign(view, { job: null, records: [...body.runs.flatMap((r) => r.metrics), ...(body.trialEvents ?? [])], workers: [], status: { state: 'ended', summaryLines: body.summaryLines } });
  render();
  $('job-name').textContent = body.title;
}

async function fillPicker(hasLive) {
  const runs = await (await fetch('/api/runs')).json();
  const picker = $('run-picker');
  const options = [];
  if (hasLive) options.push(`<option value="">live job</option>`);
  for (const r of runs) if (!r.live) options.push(`<option value="${esc(r.name)}">${esc(r.name)}${r.ended ? '' : ' (unfinished)'}</option>`);
  picker.innerHTML = options.join('');
  picker.onchange = () => (location.hash = picker.value ? `run=${encodeURIComponent(picker.value)}` : '');
}

async function route(hasLive) {
  const past = /^#run=(.+)$/.exec(location.hash);
  $('run-picker').value = past ? decodeURIComponent(past[1]) : '';
  if (past) await showPast(decodeURIComponent(past[1]));
  else if (hasLive) connectLive();
  else $('job-facts').textContent = 'no live job: pick a past run';
}

(async () => {
  const hasLive = (await fetch('/api/live', { method: 'HEAD' })).ok;
  await fillPicker(hasLive);
  window.addEventListener('hashchange', () => route(hasLive));
  await route(hasLive);
  setInterval(() => view.mode === 'live' && drawWorkers(), 1000);
})();
