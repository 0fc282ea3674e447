// `npm run audit`: the runtime dependencies of every package (what ships to users) must carry no
// known high or critical advisory. The check needs the registry's audit endpoint; when it cannot
// be reached this exits non-zero and says so, since "could not check" is not "no advisory".
// It is a script, not a test: the suite must run on machines that reach the package registry but
// not its audit endpoint, and a test that cannot pass there would block every change.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface AuditReport {
  metadata?: { vulnerabilities?: Record<string, number> };
  vulnerabilities?: Record<string, { severity: string; range?: string }>;
  error?: { code?: string; summary?: string };
  message?: string;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
  execFile('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: root, timeout: 90_000, maxBuffer: 32 * 1024 * 1024 }, (_err, out, err) =>
    resolve({ stdout: out, stderr: err }),
  );
});

let report: AuditReport = {};
try {
  report = JSON.parse(stdout) as AuditReport;
} catch {
  /* reported below */
}
const counts = report.metadata?.vulnerabilities;
if (!counts) {
  const why = report.message ?? report.error?.summary ?? report.error?.code ?? stderr.trim().split('\n').slice(-3).join(' | ');
  console.error(`audit: the registry's audit endpoint could not be reached, so the dependencies were NOT checked: ${why}`);
  process.exit(2);
}
const serious = Object.entries(report.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical');
for (const [name, v] of serious) console.error(`audit: ${name}: ${v.severity} (${v.range ?? 'any version'})`);
console.log(`audit: ${serious.length} high or critical advisories in the runtime dependencies (${JSON.stringify(counts)})`);
process.exit(serious.length ? 1 : 0);
