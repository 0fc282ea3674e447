import { ALGORITHMS } from '@scaleout/balancer';

/**
 * The dashboard: the proxy's numbers and each node's sessions, saves per second and load time
 * (two series of the node's own Prometheus metrics), with inline SVG sparklines drawn
 * by a few lines of plain script from `status.json` once a second. No framework, no build step.
 */
export function dashboardPage(nonce: string): string {
  const options = ALGORITHMS.map((a) => `<option>${a}</option>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>scaleout sample cluster · dashboard</title>
<style nonce="${nonce}">
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
table{border-collapse:collapse;margin-top:1em}
th,td{border-bottom:1px solid #ddd;padding:6px 10px;text-align:right;vertical-align:middle;white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.state{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:.85em}
.up{background:#2f855a}.down{background:#c53030}.drain{background:#b7791f}.ejected{background:#dd6b20}.unknown{background:#718096}
.num{font-variant-numeric:tabular-nums;min-width:3.5em;display:inline-block}
svg{vertical-align:middle;margin-left:6px}polyline{fill:none;stroke:#2b6cb0;stroke-width:1.5}
.muted{color:#666}button{margin:0 2px}
</style></head><body>
<h1>scaleout sample cluster</h1>
<p id="summary" class="muted"></p>
<p><a id="app" href="#">open the app</a> · <a id="status" href="#">proxy status page</a> ·
<label>algorithm <select id="algorithm">${options}</select></label> · <span id="errors" class="muted"></span></p>
<table><thead><tr><th class="l">node</th><th class="l">framework</th><th class="l">state</th><th>pid</th><th>in flight</th><th>requests/s</th><th>latency ms</th><th>sessions</th><th title="rate of scaleout_session_requests_total{outcome=&quot;saved&quot;} from the node's /metrics">saves/s</th><th title="mean scaleout_session_load_duration_seconds from the node's /metrics">load ms</th><th>requests</th><th></th></tr></thead>
<tbody id="nodes"></tbody></table>
<p class="muted">processes started by the launcher (process groups): <span id="processes"></span></p>
<p class="muted">Kill a node and watch the others take its clients: with <b>sticky</b> its clients start fresh sessions, with <b>cluster</b> and <b>store</b> their counters go on.</p>
<script nonce="${nonce}">
const post = (path) => fetch(path, { method: 'POST', headers: { 'x-scaleout-admin': '1' } }).then(refresh);
function spark(values) {
  const w = 110, h = 26, v = values.map((x) => (x == null ? 0 : x));
  if (v.length < 2) return '<svg width="' + w + '" height="' + h + '"></svg>';
  const max = Math.max(1, ...v), step = w / (v.length - 1);
  const pts = v.map((y, i) => (i * step).toFixed(1) + ',' + (h - 2 - (y / max) * (h - 4)).toFixed(1)).join(' ');
  return '<svg width="' + w + '" height="' + h + '" role="img" aria-label="last ' + v.length + ' s"><polyline points="' + pts + '"/></svg>';
}
const fmt = (x, d) => (x == null ? '–' : Number(x).toFixed(d));
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
async function refresh() {
  const s = await (await fetch('status.json', { cache: 'no-store' })).json();
  document.getElementById('summary').textContent = s.summary;
  document.getElementById('app').href = s.url + '/';
  document.getElementById('status').href = s.statusPageUrl;
  const sel = document.getElementById('algorithm');
  if (s.proxy && document.activeElement !== sel) sel.value = s.proxy.algorithm;
  if (s.proxy) document.getElementById('errors').textContent = 'proxy answered 502: ' + s.proxy.errors[502] + ' · 503: ' + s.proxy.errors[503] + ' · 504: ' + s.proxy.errors[504];
  document.getElementById('processes').textContent = s.processes.map((p) => p.name + ' ' + (p.pid ?? '–')).join(' · ');
  document.getElementById('nodes').innerHTML = s.nodes.map((n) => {
    const last = (a) => a[a.length - 1];
    return '<tr data-node="' + esc(n.id) + '"><td class="l"><b>' + esc(n.id) + '</b></td><td class="l">' + esc(n.framework) + '</td>' +
      '<td class="l"><span class="state ' + esc(n.running ? n.state : 'down') + '">' + esc(n.running ? n.state : 'killed') + '</span></td>' +
      '<td>' + (n.running ? n.pid : '–') + '</td>' +
      '<td><span class="num">' + n.inFlight + '</span>' + spark(n.history.inFlight) + '</td>' +
      '<td><span class="num">' + fmt(last(n.history.requestsPerSecond), 1) + '</span>' + spark(n.history.requestsPerSecond) + '</td>' +
      '<td><span class="num">' + fmt(n.latencyMs, 1) + '</span>' + spark(n.history.latencyMs) + '</td>' +
      '<td><span class="num">' + fmt(n.sessions, 0) + '</span>' + spark(n.history.sessions) + '</td>' +
      '<td class="saves"><span class="num">' + fmt(last(n.history.savesPerSecond), 1) + '</span>' + spark(n.history.savesPerSecond) + '</td>' +
      '<td class="load"><span class="num">' + fmt(last(n.history.loadMs), 2) + '</span>' + spark(n.history.loadMs) + '</td>' +
      '<td>' + n.requests + '</td>' +
      '<td><button data-id="' + esc(n.id) + '" data-action="kill"' + (n.running ? '' : ' disabled') + '>Kill</button>' +
      '<button data-id="' + esc(n.id) + '" data-action="restart"' + (n.running ? ' disabled' : '') + '>Restart</button></td></tr>';
  }).join('');
  for (const b of document.querySelectorAll('button[data-action]')) b.onclick = () => { b.disabled = true; post('nodes/' + encodeURIComponent(b.dataset.id) + '/' + b.dataset.action); };
}
document.getElementById('algorithm').onchange = (e) => post('algorithm?name=' + encodeURIComponent(e.target.value));
refresh();
setInterval(refresh, 1000);
</script></body></html>`;
}
