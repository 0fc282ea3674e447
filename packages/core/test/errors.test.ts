import { expect } from 'chai';
import { describeValue, redactCredentials } from '@scaleout/core';

describe('errors: redaction', () => {
  it('hides the user-info of every URL, whatever the password holds', () => {
    expect(redactCredentials('cannot reach redis://app:s3cr/et "x"@10.0.0.1:6379')).to.equal('cannot reach redis://[redacted]@10.0.0.1:6379');
    expect(redactCredentials('redis://10.0.0.1:6379 and rediss://:pw@h:1')).to.equal('redis://[redacted]@h:1');
    expect(redactCredentials('nothing to hide')).to.equal('nothing to hide');
  });

  it('ends at a line, so the other lines of a process\'s output stay readable', () => {
    const output = 'connecting to redis://u:pw@127.0.0.1:1\nready on http://127.0.0.1:8080\nuser@example';
    expect(redactCredentials(output)).to.equal('connecting to redis://[redacted]@127.0.0.1:1\nready on http://127.0.0.1:8080\nuser@example');
  });

  it('is the rule describeValue applies to a value', () => {
    expect(describeValue('redis://u:pw@h:1')).to.equal('"redis://[redacted]@h:1"');
    expect(describeValue('hunter2', 'store.password')).to.equal('[redacted]');
  });
});
