import { expect } from 'chai';
import fc from 'fast-check';
import { RouteCookie, RouteTable, routeTag, routeSetCookie, parseCookies, ROUTE_TAG_LENGTH, type SessionSettings } from '@scaleout/core';

// The route cookie decides which node a request lands on, so a client that could forge one
// could steer itself to any node. These properties hold for any input: a value resolves to a
// node only when it is exactly that node's tag under a listed secret.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

const NODES = ['node-1', 'node-2', 'node-3', 'app-7.internal:3000'];
const SECRETS = ['route-secret-new', 'route-secret-old'];
const TAG_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const tagChar = fc.integer({ min: 0, max: 63 }).map((i) => TAG_CHARS[i]!);
/** Strings of the tag's exact shape: they pass the shape check and must still fail the MAC. */
const tagShaped = fc.string({ unit: tagChar, minLength: ROUTE_TAG_LENGTH, maxLength: ROUTE_TAG_LENGTH });
const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const settings: SessionSettings = {
  secret: SECRETS, ttlMs: 60_000, cookieName: 'sid', storeTimeoutMs: 1000, onStoreDown: 'fail', secure: 'auto', sameSite: 'lax', userKey: 'userId',
};

/** Every tag the table accepts: each node under each secret. */
const genuine = new Map<string, string>();
for (const n of NODES) for (const s of SECRETS) genuine.set(routeTag(n, s), n);

/** A genuine tag with one character changed to another tag character. */
const mutatedTag = fc.tuple(fc.constantFrom(...genuine.keys()), fc.nat({ max: ROUTE_TAG_LENGTH - 1 }), tagChar).map(([tag, i, c]) => tag.slice(0, i) + c + tag.slice(i + 1));

describe('fuzz: route cookie', function () {
  const table = new RouteTable(NODES, SECRETS);

  it('RouteTable.resolve never throws and resolves only genuine tags, to their own node', function () {
    fc.assert(
      fc.property(fc.oneof(tagShaped, mutatedTag, fc.string({ maxLength: 64 }), fc.string({ unit: anyChar, maxLength: 30 }), fc.anything()), (value) => {
        const node = table.resolve(value);
        if (typeof value === 'string' && genuine.has(value)) expect(node).to.equal(genuine.get(value));
        else expect(node, typeof value === 'string' ? value : typeof value).to.equal(undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('RouteTable.resolve refuses tags made with an unlisted secret or for an unlisted node', function () {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom(...NODES), (secret, node, listed) => {
        fc.pre(!SECRETS.includes(secret));
        expect(table.resolve(routeTag(listed, secret))).to.equal(undefined);
        fc.pre(!NODES.includes(node));
        expect(table.resolve(routeTag(node, SECRETS[0]!))).to.equal(undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('RouteCookie.needsSet is false only for the node\'s current tag; matches() accepts retired-secret tags of this node only', function () {
    const rc = new RouteCookie('node-2', SECRETS);
    const retired = routeTag('node-2', SECRETS[1]!);
    fc.assert(
      fc.property(fc.oneof(tagShaped, mutatedTag, fc.constantFrom(...genuine.keys()), fc.string(), fc.anything()), (value) => {
        expect(rc.needsSet(value)).to.equal(value !== rc.value);
        expect(rc.matches(value)).to.equal(value === rc.value || value === retired);
      }),
      { numRuns: RUNS },
    );
  });

  it('routeSetCookie never throws and sets the node\'s cookie unless the header already carries its current tag', function () {
    const rc = new RouteCookie('node-1', SECRETS);
    const headerArb = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: anyChar, maxLength: 60 }),
      fc.tuple(fc.string({ maxLength: 30 }), fc.oneof(tagShaped, mutatedTag, fc.constant(rc.value), fc.constant(`"${rc.value}"`))).map(([junk, v]) => `${junk}; route=${v}`),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(headerArb, fc.boolean(), (header, secure) => {
        const out = routeSetCookie(rc, parseCookies(header), settings, secure);
        if (parseCookies(header).route === rc.value) expect(out).to.equal(undefined);
        else expect(out).to.equal(`route=${rc.value}; Path=/; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`);
      }),
      { numRuns: RUNS },
    );
  });
});
