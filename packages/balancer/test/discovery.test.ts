import { expect } from 'chai';
import { BalancerConfigError, createBalancer, Discovery, EndpointSet, type Balancer, type DiscoveryOptions } from '../src/index.js';
import { eventually } from '@scaleout/harness';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { startBackends, type Backend } from './helpers.js';

describe('discovery', () => {
  let backends: Backend[];
  let dns: DnsServer;
  const open: Array<Balancer | Discovery> = [];

  before(async () => {
    backends = await startBackends([{}, {}]);
    dns = await startDnsServer();
  });
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
    dns.zone.clear();
  });
  after(async () => {
    await dns.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  describe('a polled function', () => {
    it('fills the set before the first call and follows changes', async () => {
      let list = [backends[0]!.url];
      const b = createBalancer({ discovery: { resolve: async () => list, interval: 30 } });
      open.push(b);
      const res = await b.fetch('/'); // waits for the first lookup
      expect(await res.text()).to.equal('backend-0');
      list = [backends[1]!.url];
      await eventually(() => b.endpoints.get(backends[1]!.url) && !b.endpoints.get(backends[0]!.url), 3000, 'the new list');
      expect(await (await b.fetch('/')).text()).to.equal('backend-1');
    });

    it('keeps the last list when a lookup fails, and says so', async () => {
      let fail = false;
      const b = createBalancer({
        discovery: {
          resolve: () => {
            if (fail) throw new Error('registry down');
            return [backends[0]!.url];
          },
          interval: 20,
        },
      });
      open.push(b);
      await b.ready();
      const errors: Error[] = [];
      b.on('discovery-error', (e: Error) => errors.push(e));
      fail = true;
      await eventually(() => errors.length >= 2, 3000, 'two failed lookups');
      expect(errors[0]!.message).to.equal('registry down');
      expect(b.endpoints.size).to.equal(1);
    });

    it('reports a garbled list without emptying the set', async () => {
      let list: unknown = [backends[0]!.url];
      const set = new EndpointSet([]);
      const d = new Discovery(set, { resolve: () => list as string[], interval: 20 });
      open.push(d);
      await d.start();
      const errors: Array<{ code?: string }> = [];
      set.on('discovery-error', (e: { code?: string }) => errors.push(e));
      list = ['not a url'];
      await eventually(() => errors.length > 0, 3000, 'an error');
      list = 'nope';
      await eventually(() => errors.length > 1, 3000, 'another error');
      expect(errors[0]!.code).to.equal('ERR_SCALEOUT_BALANCER_CONFIG');
      expect(set.all().map((e) => e.id)).to.deep.equal([backends[0]!.url]);
    });
  });

  it('takes a static list', async () => {
    const b = createBalancer({ discovery: [backends[0]!.url, backends[1]!.url] });
    open.push(b);
    await b.ready();
    expect(b.endpoints.size).to.equal(2);
  });

  describe('DNS', () => {
    const port = (i: number): number => Number(new URL(backends[i]!.url).port);

    it('turns A records into endpoints on the given port and calls them', async () => {
      dns.zone.set('users.test', { A: [{ address: '127.0.0.1', ttl: 60 }] });
      const b = createBalancer({ discovery: { dns: 'users.test', port: port(0), servers: [dns.address] } });
      open.push(b);
      expect(await (await b.fetch('/')).text()).to.equal('backend-0');
      expect(b.endpoints.all().map((e) => e.id)).to.deep.equal([`127.0.0.1:${port(0)}`]);
    });

    it('refreshes on the TTL, not before', async () => {
      dns.zone.set('ttl.test', { A: [{ address: '127.0.0.1', ttl: 3600 }] });
      const b = createBalancer({ discovery: { dns: 'ttl.test', port: 80, servers: [dns.address], minInterval: 10 } });
      open.push(b);
      await b.ready();
      const asked = dns.queries;
      await new Promise((r) => setTimeout(r, 200));
      expect(dns.queries).to.equal(asked);

      dns.zone.set('short.test', { A: [{ address: '10.0.0.1', ttl: 0 }] });
      const c = createBalancer({ discovery: { dns: 'short.test', port: 80, servers: [dns.address], minInterval: 20 } });
      open.push(c);
      await c.ready();
      dns.zone.set('short.test', { A: [{ address: '10.0.0.1', ttl: 0 }, { address: '10.0.0.2', ttl: 0 }] });
      await eventually(() => c.endpoints.size === 2, 3000, 'the second address');
      expect(c.endpoints.all().map((e) => e.url.href)).to.deep.equal(['http://10.0.0.1/', 'http://10.0.0.2/']);
    });

    it('uses the lowest-priority SRV targets with their ports and weights', async () => {
      dns.zone.set('_http._tcp.users.test', {
        SRV: [
          { priority: 10, weight: 3, port: port(0), target: 'a.users.test', ttl: 60 },
          { priority: 10, weight: 1, port: port(1), target: 'b.users.test', ttl: 60 },
          { priority: 20, weight: 5, port: 9, target: 'backup.users.test', ttl: 60 },
        ],
      });
      dns.zone.set('a.users.test', { A: [{ address: '127.0.0.1', ttl: 60 }] });
      dns.zone.set('b.users.test', { A: [{ address: '127.0.0.1', ttl: 60 }] });
      dns.zone.set('backup.users.test', { A: [{ address: '127.0.0.9', ttl: 60 }] });
      const b = createBalancer({ discovery: { dns: '_http._tcp.users.test', record: 'SRV', servers: [dns.address] }, algorithm: 'weighted-round-robin' });
      open.push(b);
      await b.ready();
      expect(b.endpoints.all().map((e) => [e.id, e.weight])).to.deep.equal([
        [`127.0.0.1:${port(0)}`, 3],
        [`127.0.0.1:${port(1)}`, 1],
      ]);
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) bodies.push(await (await b.fetch('/')).text());
      expect(bodies.sort()).to.deep.equal(['backend-0', 'backend-0', 'backend-0', 'backend-1']);
    });

    it('keeps the last endpoints when the name stops resolving', async () => {
      dns.zone.set('gone.test', { A: [{ address: '10.0.0.1', ttl: 0 }] });
      const b = createBalancer({ discovery: { dns: 'gone.test', servers: [dns.address], minInterval: 20, maxInterval: 40 } });
      open.push(b);
      await b.ready();
      const errors: Array<{ code?: string }> = [];
      b.on('discovery-error', (e: { code?: string }) => errors.push(e));
      dns.zone.delete('gone.test');
      await eventually(() => errors.length > 0, 5000, 'a failed lookup');
      expect(errors[0]!.code).to.equal('ENOTFOUND');
      expect(b.endpoints.size).to.equal(1);
    });
  });

  describe('bad input', () => {
    const bad: Array<[DiscoveryOptions, string]> = [
      [{ resolve: 'http://a:1' } as never, 'discovery.resolve'],
      [{ resolve: () => [], interval: 'often' }, 'discovery.interval'],
      [{ dns: '' }, 'discovery.dns'],
      [{ dns: 'bad name!' }, 'discovery.dns'],
      [{ dns: 'a.test', record: 'MX' as never }, 'discovery.record'],
      [{ dns: 'a.test', port: 70000 }, 'discovery.port'],
      [{ dns: 'a.test', protocol: 'ftp' as never }, 'discovery.protocol'],
      [{ dns: 'a.test', servers: ['not an address'] }, 'discovery.servers'],
      [{ dns: 'a.test', servers: [] }, 'discovery.servers'],
      [{ dns: 'a.test', minInterval: '1m', maxInterval: '1s' }, 'discovery.maxInterval'],
      [{ nothing: true } as never, 'discovery'],
      [null as never, 'discovery'],
    ];
    for (const [options, field] of bad) {
      it(`refuses ${JSON.stringify(options)} naming ${field}`, () => {
        expect(() => createBalancer({ discovery: options })).to.throw(BalancerConfigError).with.property('field', field);
      });
    }
  });
});
