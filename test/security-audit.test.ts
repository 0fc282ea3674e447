import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

// What ships to users (the runtime dependencies of every package) must carry no known high or
// critical advisory. The check asks the registry's audit endpoint; when that cannot be reached the
// test fails and says so, since "could not check" is not "no advisory".
const root = fileURLToPath(new URL('..', import.meta.url));

interface AuditReport {
  metadata?: { vulnerabilities?: Record<string, number> };
  vulnerabilities?: Record<string, { severity: string; via: unknown[]; range?: string }>;
  error?: { code?: string; summary?: string; detail?: string };
  message?: string;
  statusCode?: number;
}

function runAudit(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: root, timeout: 90_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const exit = (err as { code?: unknown } | null)?.code;
      resolve({ code: typeof exit === 'number' ? exit : err ? 1 : 0, stdout, stderr });
    });
  });
}

describe('security: npm audit of the runtime dependencies', function () {
  this.timeout(120_000);

  it('reports no high or critical advisory (npm audit --omit=dev --audit-level=high)', async function () {
    const { code, stdout, stderr } = await runAudit();
    let report: AuditReport;
    try {
      report = JSON.parse(stdout) as AuditReport;
    } catch {
      expect.fail(`npm audit gave no JSON report (exit ${code}); the audit could not run. stderr:\n${stderr.slice(0, 2000)}`);
    }
    const counts = report.metadata?.vulnerabilities;
    if (!counts) {
      const why = report.message ?? report.error?.summary ?? report.error?.code ?? stderr.trim().split('\n').slice(-3).join(' | ');
      expect.fail(
        `the npm registry's audit endpoint could not be reached, so the dependencies were NOT checked: ${why}. ` +
          'Run `npm audit --omit=dev --audit-level=high` where https://registry.npmjs.org/-/npm/v1/security/advisories/bulk is reachable.',
      );
    }
    const serious = Object.entries(report.vulnerabilities ?? {})
      .filter(([, v]) => v.severity === 'high' || v.severity === 'critical')
      .map(([name, v]) => `${name} (${v.severity}, ${v.range ?? 'any version'})`);
    expect(serious, 'packages with high or critical advisories').to.deep.equal([]);
    expect((counts.high ?? 0) + (counts.critical ?? 0)).to.equal(0);
    expect(code, 'npm audit exit code').to.equal(0);
  });
});
