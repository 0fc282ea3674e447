import { expect } from 'chai';
import { RouteCookie, RouteTable, routeTag, isRouteTagShape, InvalidArgumentError } from '@scaleout/core';

describe('route cookie', function () {
  it('derives the same opaque 22-character tag for the same node and secret, and different ones otherwise', function () {
    const t = routeTag('node-1', 's');
    expect(t).to.equal(routeTag('node-1', 's'));
    expect(t).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect(routeTag('node-2', 's')).to.not.equal(t);
    expect(routeTag('node-1', 's2')).to.not.equal(t);
  });

  it('resolves tags under every listed secret and nothing else', function () {
    const table = new RouteTable(['a', 'b'], ['new', 'old']);
    expect(table.resolve(routeTag('a', 'new'))).to.equal('a');
    expect(table.resolve(routeTag('b', 'old'))).to.equal('b');
    expect(table.tagFor('a')).to.equal(routeTag('a', 'new'));
    for (const bad of [routeTag('c', 'new'), routeTag('a', 'gone'), '', 'x'.repeat(22), 'a'.repeat(5000), 42, null, undefined, { toString: () => 'a' }]) {
      expect(table.resolve(bad), String(bad)).to.equal(undefined);
    }
    table.remove('a');
    expect(table.resolve(routeTag('a', 'new'))).to.equal(undefined);
    table.add('c');
    expect(table.resolve(routeTag('c', 'old'))).to.equal('c');
  });

  it('tells a node when the client must be re-pinned', function () {
    const rc = new RouteCookie('n1', ['new', 'old']);
    expect(rc.name).to.equal('route');
    expect(rc.matches(rc.value)).to.equal(true);
    expect(rc.matches(routeTag('n1', 'old'))).to.equal(true);
    expect(rc.needsSet(rc.value)).to.equal(false);
    expect(rc.needsSet(routeTag('n1', 'old')), 'retired secret is re-signed').to.equal(true);
    expect(rc.needsSet(undefined)).to.equal(true);
    expect(isRouteTagShape(rc.value)).to.equal(true);
  });

  it('refuses bad arguments with coded errors', function () {
    expect(() => routeTag('', 's')).to.throw(InvalidArgumentError);
    expect(() => new RouteTable(['a'], [])).to.throw(InvalidArgumentError, /secret/);
    expect(() => new RouteTable(['a'], [''])).to.throw(InvalidArgumentError);
    expect(() => new RouteCookie('a', 's', { cookieName: 'bad name;' })).to.throw(InvalidArgumentError, /RFC 6265/);
  });
});
