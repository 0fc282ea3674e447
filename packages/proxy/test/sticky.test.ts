import { expect } from 'chai';
import { parseProxyConfig, Stickiness } from '@scaleout/proxy';
import { routeTag } from '@scaleout/core';

const base = { targets: [{ id: 'a', url: 'http://127.0.0.1:1' }, { id: 'b', url: 'http://127.0.0.1:2' }] };

describe('Stickiness', () => {
  it('reads the first route cookie, quoted or not, and nothing from garbage', () => {
    const s = new Stickiness(parseProxyConfig({ ...base, secret: 'k' }));
    const a = routeTag('a', 'k');
    const b = routeTag('b', 'k');
    expect(s.pinned({ cookie: `x=1; route=${a}; route=${b}` })).to.equal('a');
    expect(s.pinned({ cookie: `route="${b}"` })).to.equal('b');
    expect(s.pinned({ cookie: `myroute=${a}` })).to.equal(undefined);
    expect(s.pinned({ cookie: ';;; =;route' })).to.equal(undefined);
    expect(s.pinned({})).to.equal(undefined);
  });

  it('resolves tags under every secret, newest first for writing', () => {
    const s = new Stickiness(parseProxyConfig({ ...base, secret: ['new', 'old'] }));
    expect(s.pinned({ cookie: `route=${routeTag('b', 'old')}` })).to.equal('b');
    expect(s.pinned({ cookie: `route=${routeTag('b', 'new')}` })).to.equal('b');
    expect(s.pinned({ cookie: `route=${routeTag('c', 'new')}` })).to.equal(undefined);
    expect(s.tagFor('a')).to.equal(routeTag('a', 'new'));
  });

  it('insert: writes the cookie only when the client is not pinned to the node that served', () => {
    const s = new Stickiness(parseProxyConfig({ ...base, secret: 'k', sticky: { mode: 'insert', cookieName: 'lb', secure: true, sameSite: 'Strict', maxAge: '1h' } }));
    const h = s.insertHeaders('a', undefined, 'public, max-age=60')!;
    expect(h['set-cookie']).to.equal(`lb=${routeTag('a', 'k')}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=3600`);
    expect(h['cache-control']).to.equal('public, max-age=60, no-cache="set-cookie"');
    expect(s.insertHeaders('a', 'a', undefined)).to.equal(undefined);
    expect(s.insertHeaders('b', 'a', undefined)!['set-cookie']).to.match(/^lb=/);
  });

  it('insert: hides its cookie from the node; learn: writes nothing', () => {
    const ins = new Stickiness(parseProxyConfig({ ...base, secret: 'k', sticky: { mode: 'insert', cookieName: 'lb' } }));
    expect(ins.stripCookie('a=1; lb=xyz; b=2')).to.equal('a=1; b=2');
    expect(ins.stripCookie('lb=xyz')).to.equal(undefined);
    const learn = new Stickiness(parseProxyConfig({ ...base, secret: 'k' }));
    expect(learn.insertHeaders('a', undefined, undefined)).to.equal(undefined);
  });

  it('SameSite=None always carries Secure (browsers drop it otherwise)', () => {
    const s = new Stickiness(parseProxyConfig({ ...base, secret: 'k', sticky: { mode: 'insert', sameSite: 'None' } }));
    expect(s.insertHeaders('a', undefined, undefined)!['set-cookie']).to.match(/SameSite=None; Secure$/);
  });
});
