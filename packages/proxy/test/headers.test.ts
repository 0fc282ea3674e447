import type { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import { clientAddress, compileTrust } from '../src/headers.js';

/** A request as the header functions read it: raw and parsed headers, and the socket's peer. */
function req(remoteAddress: string, xff?: string): IncomingMessage {
  const headers = xff === undefined ? {} : { 'x-forwarded-for': xff };
  return { rawHeaders: xff === undefined ? [] : ['X-Forwarded-For', xff], headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('headers: trust by proxy-addr', () => {
  const cases: [string, string, string | undefined, boolean | string[], string][] = [
    ['a peer inside a trusted CIDR range speaks for the client', '10.1.2.3', '203.0.113.9, 10.9.9.9', ['10.0.0.0/8'], '203.0.113.9'],
    ['the walk stops at the first hop outside the ranges', '10.1.2.3', '203.0.113.9, 198.51.100.7, 10.9.9.9', ['10.0.0.0/8'], '198.51.100.7'],
    ['an IPv4-mapped peer matches an IPv4 range', '::ffff:10.1.2.3', '203.0.113.9', ['10.0.0.0/8'], '203.0.113.9'],
    ['a peer outside the ranges is the client, whatever it sends', '192.0.2.1', '203.0.113.9', ['10.0.0.0/8'], '192.0.2.1'],
    ["proxy-addr's names: loopback", '127.0.0.1', '203.0.113.9', ['loopback'], '203.0.113.9'],
    ['an IPv6 range', 'fd00::5', '203.0.113.9', ['fd00::/8'], '203.0.113.9'],
    ['a hop that is not an address ends the walk at the last one that is', '10.1.2.3', 'garbage, 10.9.9.9', ['10.0.0.0/8'], '10.9.9.9'],
    ['trust nobody', '10.1.2.3', '203.0.113.9', false, '10.1.2.3'],
    ['trust everybody: the first hop', '10.1.2.3', '203.0.113.9, 198.51.100.7', true, '203.0.113.9'],
  ];
  for (const [what, peer, xff, trust, expected] of cases) {
    it(what, () => {
      expect(clientAddress(req(peer, xff), trust)).to.equal(expected);
      expect(clientAddress(req(peer, xff), compileTrust(trust)), 'compiled once').to.equal(expected);
    });
  }

  it('refuses an entry proxy-addr cannot read', () => {
    expect(() => compileTrust(['10.0.0.0/33'])).to.throw();
  });
});
