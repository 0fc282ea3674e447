import type { IncomingMessage } from 'node:http';
import type { ProfileView } from './profile-client.js';

/** What the demo keeps in a session. */
export interface DemoSession {
  count?: number;
  user?: string;
  note?: string;
  /** The node that created the session: shows a client moved or a session replicated. */
  bornOn?: string;
}

/** Everything the page shows. */
export interface DemoView {
  nodeId: string;
  framework: 'express' | 'koa';
  strategy: string;
  session: DemoSession;
  profile: ProfileView;
  /** The launcher's dashboard, when it runs one. */
  dashboardUrl?: string;
  message?: string;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Counts one visit in the session and returns the new count. */
export function countVisit(session: DemoSession, nodeId: string): number {
  session.bornOn ??= nodeId;
  session.count = (typeof session.count === 'number' ? session.count : 0) + 1;
  return session.count;
}

/** Names a user may log in with: short, printable. */
export function cleanName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return /^[\p{L}\p{N} ._-]{1,32}$/u.test(v) ? v : undefined;
}

/** A note as the form sends it, bounded so that a session stays small. */
export function cleanNote(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}

const MAX_FORM = 4096;
const MAX_DRAIN = 1024 * 1024;

/** Reads a small `application/x-www-form-urlencoded` body; anything else or larger is empty. */
export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    req.resume();
    return {};
  }
  let size = 0;
  const chunks: Buffer[] = [];
  // An oversized body is read to its end and dropped, so that the connection stays usable for
  // the proxy's next request; past MAX_DRAIN it is cut instead.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAIN) {
      req.socket.destroy();
      return {};
    }
    if (size <= MAX_FORM) chunks.push(chunk);
  }
  return size > MAX_FORM ? {} : Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

// Each node gets its own colour, so a person sees the serving node change at a glance.
const COLOURS: Record<string, string> = { 'node-1': '#2b6cb0', 'node-2': '#2f855a', 'node-3': '#b7791f' };

/** The demo page. */
export function renderPage(v: DemoView): string {
  const s = v.session;
  const colour = COLOURS[v.nodeId] ?? '#555';
  const moved = s.bornOn && s.bornOn !== v.nodeId ? `<p class="hint">This session was created on <b>${esc(s.bornOn)}</b> and is now served by <b>${esc(v.nodeId)}</b>: ${v.strategy === 'sticky' ? 'the route cookie moved you' : 'the session followed you'}.</p>` : '';
  const profile = v.profile.instance
    ? `profile <b>${esc(v.profile.displayName)}</b> answered by <b id="profile-instance">${esc(v.profile.instance)}</b> in ${v.profile.latencyMs.toFixed(1)} ms`
    : `profile service unavailable: ${esc(v.profile.error ?? 'no answer')}`;
  const login = s.user
    ? `<form method="post" action="/logout"><span>logged in as <b id="user">${esc(s.user)}</b></span> <button>Log out</button></form>`
    : `<form method="post" action="/login"><input name="name" placeholder="your name" maxlength="32" required> <button>Log in</button></form>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>scaleout sample cluster · ${esc(v.nodeId)}</title>
<style>
body{font:15px system-ui,sans-serif;margin:2em auto;max-width:44em;color:#222}
.node{display:inline-block;padding:.3em .8em;border-radius:.4em;color:#fff;background:${colour};font-weight:600}
.count{font-size:3em;font-weight:700;margin:.2em 0}
form{margin:.6em 0}.hint{background:#fffbe6;padding:.5em;border-left:4px solid #e6c200}
.muted{color:#666;font-size:.9em}
</style></head><body>
<h1>scaleout sample cluster</h1>
<p>served by <span class="node" id="node">${esc(v.nodeId)}</span> <span class="muted">(${esc(v.framework)}, strategy <b id="strategy">${esc(v.strategy)}</b>)</span></p>
${v.message ? `<p class="hint">${esc(v.message)}</p>` : ''}
${moved}
<p>visits in this session</p><div class="count" id="count">${s.count ?? 0}</div>
<p><a href="/" id="again">Count again</a></p>
${login}
<form method="post" action="/note"><input name="note" placeholder="write something into the session" maxlength="200" value="${esc(s.note ?? '')}"> <button>Save note</button></form>
<p>note in session: <b id="note">${esc(s.note ?? '–')}</b></p>
<p class="muted">${profile}</p>
${v.dashboardUrl ? `<p class="muted"><a href="${esc(v.dashboardUrl)}">cluster dashboard</a> (with a link to the proxy's status page)</p>` : ''}
</body></html>`;
}
