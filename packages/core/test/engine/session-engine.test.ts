import { expect } from 'chai';
import { createStrategy, MemoryStore, SessionEngine, signSessionId, type RequestIO, type SessionBinding, type SessionData, type SessionPatch, type Strategy } from '@scaleout/core';

// The engine on its own, through the one view it has of a request (RequestIO), over a real
// MemoryStore that records what it is asked to write.

const SECRETS = ['newest', 'older'];

class RecordingStore extends MemoryStore {
  readonly writes: string[] = [];
  #patching = false; // MemoryStore's patch writes through set: one call is recorded
  override set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    if (!this.#patching) this.writes.push(`set ${id}`);
    return super.set(id, data, ttlMs);
  }
  override patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    this.writes.push(`patch ${id} ${Object.keys(patch.set).sort().join(',')}`);
    this.#patching = true;
    try {
      return super.patch(id, patch, ttlMs);
    } finally {
      this.#patching = false;
    }
  }
  override touch(id: string, ttlMs: number): Promise<void> {
    this.writes.push(`touch ${id}`);
    return super.touch(id, ttlMs);
  }
  override destroy(id: string): Promise<void> {
    this.writes.push(`destroy ${id}`);
    return super.destroy(id);
  }
}

class IO implements RequestIO {
  readonly req = {};
  readonly cookies: string[] = [];
  gone = false;
  constructor(
    readonly header: string | undefined,
    readonly secure = false,
  ) {}
  cookieHeader() {
    return this.header;
  }
  isSecure() {
    return this.secure;
  }
  socket() {
    return { destroyed: this.gone };
  }
  setCookie(line: string) {
    this.cookies.push(line);
  }
}

const plain: SessionBinding = { wrap: (_s, data) => ({ ...data }), isDataKey: () => true };

describe('SessionEngine', () => {
  let strategy: Strategy;
  let store: RecordingStore;
  const engine = (options = {}) => new SessionEngine(strategy, options, plain, store);
  const cookieFor = (id: string, secret = SECRETS) => `sid=${encodeURIComponent(signSessionId(id, secret))}`;
  const seed = async (id: string, data: SessionData = { n: 1 }, expiresIn = 30 * 60_000) => {
    await store.set(id, { ...data, cookie: { originalMaxAge: 30 * 60_000, expires: new Date(Date.now() + expiresIn).toISOString(), httpOnly: true, path: '/' } }, expiresIn);
    store.writes.length = 0;
  };

  beforeEach(async () => {
    strategy = await createStrategy({ strategy: 'store', nodeId: 'n', secret: SECRETS });
    store = new RecordingStore();
  });
  afterEach(async () => {
    await strategy.close();
    await store.close();
  });

  it('writes nothing for an unchanged session whose stored expiry is recent, and patches only the cookie record once it lags by touchAfter', async () => {
    await seed('fresh');
    const s1 = await engine().open(new IO(cookieFor('fresh')));
    await s1.commit();
    expect(store.writes).to.deep.equal([]);
    await seed('stale', { n: 1 }, 29 * 60_000); // moved two minutes ago: past the 60 s default
    const s2 = await engine().open(new IO(cookieFor('stale')));
    await s2.commit();
    expect(store.writes).to.deep.equal(['patch stale cookie']);
  });

  it('saves only the keys a request changed', async () => {
    await seed('k', { a: 1, b: { deep: [1] } });
    const s = await engine().open(new IO(cookieFor('k')));
    (s.data as SessionData).b = { deep: [1, 2] };
    await s.commit();
    expect(store.writes).to.deep.equal(['patch k b,cookie']);
    expect(await store.get('k')).to.deep.include({ a: 1, b: { deep: [1, 2] } });
  });

  it('sends back a cookie signed with the newest secret as it came, and re-signs one signed with an older secret', async () => {
    await seed('r');
    const io = new IO(cookieFor('r'));
    await (await engine().open(io)).commit();
    expect(io.cookies[0]!.split(';')[0]).to.equal(cookieFor('r'));
    const old = new IO(cookieFor('r', ['older']));
    const s = await engine().open(old);
    expect(s.id).to.equal('r');
    await s.commit();
    expect(old.cookies[0]!.split(';')[0]).to.equal(cookieFor('r'));
  });

  it('gives a fresh id for a forged, oversized or unknown cookie, and never adopts the id it names', async () => {
    await seed('victim');
    for (const header of [`sid=${encodeURIComponent('s:victim.forged')}`, `sid=s:${'x'.repeat(600)}`, cookieFor('not-stored'), 'sid=%%%']) {
      const s = await engine().open(new IO(header));
      expect(s.isNew, header).to.equal(true);
      expect(s.id).to.not.be.oneOf(['victim', 'not-stored']);
    }
  });

  it('deletes a stored session whose cookie record has expired and starts a new one', async () => {
    await store.set('old', { n: 1, cookie: { originalMaxAge: 1000, expires: new Date(Date.now() - 1).toISOString() } }, 60_000);
    store.writes.length = 0;
    const s = await engine().open(new IO(cookieFor('old')));
    expect(s.isNew).to.equal(true);
    expect(store.writes).to.deep.equal(['destroy old']);
  });

  it('deletes the session and expires its cookie when the app sets a lifetime of zero', async () => {
    await seed('z');
    const io = new IO(cookieFor('z'));
    const s = await engine().open(io);
    s.cookie.maxAge = 0;
    await s.commit();
    expect(store.writes).to.deep.equal(['destroy z']);
    // express-session sends the cookie with its past expiry: the browser drops it.
    expect(io.cookies[0]!.startsWith(`${cookieFor('z')};`)).to.equal(true);
    expect(Date.parse(/Expires=([^;]+)/.exec(io.cookies[0]!)![1]!)).to.be.at.most(Date.now());
  });

  it('neither sends nor stores a Secure cookie on a plain-HTTP request', async () => {
    const io = new IO(undefined, false);
    const s = await engine({ cookie: { secure: true } }).open(io);
    (s.data as SessionData).n = 1;
    await s.commit();
    expect(io.cookies).to.deep.equal([]);
    expect(store.writes).to.deep.equal([]);
  });

  it('writes nothing for a request whose client has gone', async () => {
    await seed('a');
    const io = new IO(cookieFor('a'));
    const s = await engine().open(io);
    (s.data as SessionData).n = 2;
    io.gone = true;
    await s.commit();
    expect(store.writes).to.deep.equal([]);
  });

  it('regenerate destroys the old id and keeps the data only when asked', async () => {
    await seed('before', { user: 'ann' });
    const s = await engine().open(new IO(cookieFor('before')));
    await s.regenerate(true);
    expect(s.id).to.not.equal('before');
    expect(s.data).to.deep.equal({ user: 'ann' });
    await s.commit();
    expect(store.writes).to.deep.equal(['destroy before', `set ${s.id}`]);
    const t = await engine().open(new IO(cookieFor(s.id)));
    await t.regenerate(false);
    expect(t.data).to.deep.equal({});
  });

  it('with saveUninitialized false stores a new session only once it holds something', async () => {
    const untouched = await engine().open(new IO(undefined));
    await untouched.commit();
    const used = await engine().open(new IO(undefined));
    (used.data as SessionData).x = 1;
    await used.commit();
    expect(store.writes).to.deep.equal([`set ${used.id}`]);
  });

  describe('over an in-process store, at once', () => {
    let plainStore: MemoryStore;
    const direct = (options = {}) => new SessionEngine(strategy, options, plain, plainStore);
    beforeEach(() => {
      plainStore = new MemoryStore();
    });
    afterEach(() => plainStore.close());

    it('opens and saves a session with no promise, and the store holds the change when commitNow returns', () => {
      const io = new IO(undefined);
      const s = direct().openNow(io)!;
      expect(s, 'opened at once').to.not.equal(undefined);
      (s.data as SessionData).n = 1;
      expect(s.commitNow(), 'nothing left to await').to.equal(undefined);
      expect(plainStore.sync!.get(s.id)).to.include({ n: 1 });
      const again = direct().openNow(new IO(io.cookies[0]!.split(';')[0]))!;
      expect(again.id).to.equal(s.id);
      expect(again.data).to.deep.equal({ n: 1 });
      (again.data as SessionData).m = 2;
      expect(again.commitNow()).to.equal(undefined);
      expect(plainStore.sync!.get(s.id)).to.include({ n: 1, m: 2 });
    });

    it('leaves a locked session, and a store whose operations a subclass replaced, to the promises', async () => {
      expect(direct({ lock: true }).openNow(new IO(undefined))).to.equal(undefined);
      expect(engine().openNow(new IO(undefined)), 'RecordingStore overrides set').to.equal(undefined);
      const s = await engine().open(new IO(undefined));
      (s.data as SessionData).x = 1;
      const pending = s.commitNow();
      expect(pending).to.be.instanceOf(Promise);
      await pending;
      expect(store.writes).to.deep.equal([`set ${s.id}`]);
    });

    it('with an observer set, still opens and saves at once, and tells the observer each step', async () => {
      const seen: string[] = [];
      const observed = await createStrategy({ strategy: 'store', nodeId: 'n', secret: SECRETS });
      observed.observer = {
        outcome: (o) => seen.push(`outcome ${o}`),
        load: (s, o) => seen.push(`load ${o} ${s >= 0 && s < 1}`),
        save: (s, o) => seen.push(`save ${o} ${s >= 0 && s < 1}`),
        lockWait: () => seen.push('lockWait'),
      };
      const observedEngine = () => new SessionEngine(observed, {}, plain, plainStore);
      const io = new IO(undefined);
      const s = observedEngine().openNow(io)!;
      (s.data as SessionData).n = 1;
      expect(s.commitNow(), 'nothing left to await').to.equal(undefined);
      const again = observedEngine().openNow(new IO(io.cookies[0]!.split(';')[0]))!;
      expect(again.data).to.deep.equal({ n: 1 });
      expect(again.commitNow()).to.equal(undefined);
      expect(seen).to.deep.equal(['outcome new', 'save saved true', 'outcome saved', 'load loaded true', 'outcome loaded', 'outcome unchanged']);
      await observed.close();
    });

    it('turns a failed save into the promise that commit() returns', async () => {
      const s = direct().openNow(new IO(undefined))!;
      (s.data as SessionData).x = 1;
      await plainStore.close();
      const pending = s.commitNow();
      expect(pending).to.be.instanceOf(Promise);
      await expect(pending).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_STORE_CLOSED');
      await expect(s.commit()).to.be.rejected;
    });
  });
});
