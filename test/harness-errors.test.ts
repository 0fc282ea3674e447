import { expect } from 'chai';
import { ScaleoutError } from '@scaleout/core';
import { eventually, freePort, HarnessErrorCodes, nodeProcess, tempDir, writeFile } from '@scaleout/harness';

describe('@scaleout/harness errors', function () {
  this.timeout(60_000);

  it('eventually() gives up with a coded error that keeps the last failure as its cause', async () => {
    const last = new Error('still 3');
    const err = await eventually(() => { throw last; }, 50, 'count is 4').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ScaleoutError).and.include({ code: HarnessErrorCodes.TIMEOUT, cause: last });
    expect((err as Error).message).to.match(/^count is 4 not met within 50 ms: Error: still 3$/);
  });

  it('a process that exits before it is ready fails with START_FAILED, its output quoted under core\'s redaction', async () => {
    const dir = tempDir('harness-errors');
    try {
      const script = writeFile(dir.dir, 'crash.mjs', "console.log('cannot reach redis://app:hunter2@127.0.0.1:1');\nconsole.log('second line');\nprocess.exit(2);\n");
      const proc = nodeProcess({ name: 'crash', script, port: await freePort(), ready: /never/, readyTimeoutMs: 20_000 });
      const err = await proc.start().then(() => undefined, (e: unknown) => e);
      await proc.stop();
      expect(err).to.be.instanceOf(ScaleoutError).and.include({ code: HarnessErrorCodes.START_FAILED });
      expect((err as Error).message).to.include('redis://[redacted]@127.0.0.1:1').and.include('second line').and.not.include('hunter2');
    } finally {
      dir.remove();
    }
  });
});
