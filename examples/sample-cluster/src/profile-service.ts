// The internal "profile" service the app nodes call: plain node:http, no framework.
// PROFILE_ID names the instance, PORT is where it listens.
import { createServer } from 'node:http';

const instance = process.env.PROFILE_ID ?? `profile-${process.pid}`;
const port = Number(process.env.PORT ?? 0);
const NAMES = ['Ada', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia'];
let served = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://profile.invalid');
  if (url.pathname === '/healthz') return void res.end('ok');
  if (req.method !== 'GET' || url.pathname !== '/profile') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    return;
  }
  served++;
  const user = (url.searchParams.get('user') ?? 'guest').slice(0, 64);
  let h = 0;
  for (const c of user) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const body = JSON.stringify({ instance, user, displayName: `${NAMES[h % NAMES.length]} (${user})`, served });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
});

server.listen(port, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as { port: number }).port });
});
// The launcher's IPC channel is the heartbeat: when it closes, the launcher is gone.
process.on('disconnect', () => process.exit(0));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
