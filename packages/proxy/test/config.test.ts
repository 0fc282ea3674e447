import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, parseProxyConfig, DEFAULT_PROXY_CONFIG } from '@scaleout/proxy';

const T = [{ id: 'node-1', url: 'http://127.0.0.1:3001' }];

describe('proxy config', () => {
  it('fills in defaults and parses durations', () => {
    const c = parseProxyConfig({ secret: 's', targets: T, healthCheck: { interval: '1s', timeout: '500ms' } });
    expect(c.listen).to.equal(DEFAULT_PROXY_CONFIG.listen);
    expect(c.host).to.equal('127.0.0.1');
    expect(c.sticky).to.include({ mode: 'learn', cookieName: 'route', sameSite: 'Lax', secure: false, nocache: true });
    expect(c.healthCheck).to.include({ interval: 1000, timeout: 500, rise: 2, fall: 3, path: '/healthz' });
    expect(c.secret).to.deep.equal(['s']);
    expect(c.targets[0]!.weight).to.equal(1);
    expect(parseProxyConfig({ targets: T }).sticky.mode).to.equal('none');
  });

  it('accepts the design document example', () => {
    const c = parseProxyConfig({
      listen: 8080,
      mode: 'http',
      algorithm: 'least-response-time',
      secret: 'same secret as the app nodes',
      targets: [
        { id: 'node-1', url: 'http://127.0.0.1:3001', weight: 1 },
        { id: 'node-2', url: 'http://127.0.0.1:3002', weight: 2 },
      ],
      sticky: { mode: 'learn', cookieName: 'route' },
      healthCheck: { path: '/healthz', interval: '1s', timeout: '500ms', rise: 2, fall: 2 },
      status: { path: '/__scaleout/status' },
    });
    expect(c.algorithm).to.equal('least-response-time');
  });

  const REFUSED: [string, unknown, string, RegExp?][] = [
    ['not an object', 'proxy.json', '(root)'],
    ['an array', [], '(root)'],
    ['no targets', { targets: [] }, 'targets'],
    ['targets missing', {}, 'targets'],
    ['a target without id', { targets: [{ url: 'http://a:1' }] }, 'targets.0.id'],
    ['a target id with spaces', { targets: [{ id: 'a b', url: 'http://a:1' }] }, 'targets.0.id'],
    ['a target url that is not a URL', { targets: [{ id: 'a', url: 'localhost' }] }, 'targets.0.url'],
    ['a target url with a path', { targets: [{ id: 'a', url: 'http://a:1/x' }] }, 'targets.0.url'],
    ['an https target', { targets: [{ id: 'a', url: 'https://a:1' }] }, 'targets.0.url', /http:\/\//],
    ['duplicate ids', { targets: [{ id: 'a', url: 'http://a:1' }, { id: 'a', url: 'http://b:1' }] }, 'targets.1.id', /unique/],
    ['weight 0', { targets: [{ id: 'a', url: 'http://a:1', weight: 0 }] }, 'targets.0.weight'],
    ['weight as text', { targets: [{ id: 'a', url: 'http://a:1', weight: 'heavy' }] }, 'targets.0.weight'],
    ['a port above 65535', { listen: 70000, targets: T }, 'listen'],
    ['an unknown mode', { mode: 'udp', targets: T }, 'mode'],
    ['an unknown algorithm', { algorithm: 'random', targets: T }, 'algorithm', /least-connections/],
    ['an unknown field', { targets: T, listn: 80 }, 'listn', /unknown field/],
    ['an unknown nested field', { targets: T, healthCheck: { intervall: '1s' } }, 'healthCheck.intervall'],
    ['a bad duration', { targets: T, timeouts: { connect: 'soon' } }, 'timeouts.connect', /duration/],
    ['a negative duration', { targets: T, timeouts: { server: -5 } }, 'timeouts.server'],
    ['rise 0', { targets: T, healthCheck: { rise: 0 } }, 'healthCheck.rise'],
    ['a relative health path', { targets: T, healthCheck: { path: 'healthz' } }, 'healthCheck.path'],
    ['a check timeout above the interval', { targets: T, healthCheck: { interval: '1s', timeout: '2s' } }, 'healthCheck.timeout'],
    ['sticky without a secret', { targets: T, sticky: { mode: 'insert' } }, 'secret', /secret/],
    ['an empty secret', { targets: T, secret: '' }, 'secret'],
    ['a cookie name with a space', { targets: T, secret: 's', sticky: { cookieName: 'my route' } }, 'sticky.cookieName'],
    ['SameSite in lower case', { targets: T, secret: 's', sticky: { sameSite: 'lax' } }, 'sticky.sameSite'],
    ['a public host without status token', { host: '0.0.0.0', targets: T }, 'status.token', /token/],
    ['a short status token', { targets: T, status: { token: 'abc' } }, 'status.token'],
    ['trustProxy with a host name', { targets: T, trustProxy: ['proxy.local'] }, 'trustProxy.0'],
    ['retries 10', { targets: T, retries: 10 }, 'retries'],
    ['a tiny maxHeaderSize', { targets: T, maxHeaderSize: 10 }, 'maxHeaderSize'],
    ['cookies in tcp mode', { mode: 'tcp', secret: 's', sticky: { mode: 'learn' }, targets: [{ id: 'a', url: 'tcp://a:1' }] }, 'sticky.mode', /L4/],
    ['least-response-time in tcp mode', { mode: 'tcp', algorithm: 'least-response-time', targets: [{ id: 'a', url: 'tcp://a:1' }] }, 'algorithm'],
  ];
  for (const [what, input, field, message] of REFUSED) {
    it(`refuses ${what}, naming ${field}`, () => {
      let caught: unknown;
      try {
        createProxy(input as never);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      const err = caught as ConfigError;
      expect(err.code).to.equal('ERR_SCALEOUT_CONFIG');
      expect(err.field).to.equal(field);
      expect(err.message).to.include(field);
      if (message) expect(err.message).to.match(message);
    });
  }

  it('never shows the secret or token in an error', () => {
    expect(() => parseProxyConfig({ targets: T, secret: ['ok', 42] })).to.throw(ConfigError).that.satisfies((e: Error) => !e.message.includes('42') && /\[redacted\]/.test(e.message));
    expect(() => parseProxyConfig({ targets: T, status: { token: 'short-secret' } })).to.throw(ConfigError).that.satisfies((e: Error) => !e.message.includes('short-secret'));
  });
});
