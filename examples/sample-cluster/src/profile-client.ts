import { debuglog } from 'node:util';
import { createBalancer, type Balancer } from '@scaleout/balancer';

const debug = debuglog('scaleout:sample-profile');

/** What the page shows of a profile lookup. */
export interface ProfileView {
  /** The profile instance that answered, or `null` when none could. */
  instance: string | null;
  displayName: string | null;
  latencyMs: number;
  error?: string;
}

/**
 * Calls the profile service through `@scaleout/balancer`: round robin over its instances,
 * health-checked, retried on another instance within the retry budget.
 */
export class ProfileClient {
  readonly #balancer: Balancer | undefined;

  constructor(urls: string[]) {
    this.#balancer = urls.length
      ? createBalancer({
          name: 'profile',
          endpoints: urls.map((url, i) => ({ id: `profile-${String.fromCharCode(97 + i)}`, url })),
          algorithm: 'round-robin',
          healthCheck: { path: '/healthz', interval: '1s', timeout: '500ms' },
          retry: { attempts: 1 },
          timeout: '1s',
        })
      : undefined;
  }

  /** The profile of `user`; never throws (the page shows the error instead). */
  async lookup(user: string): Promise<ProfileView> {
    const started = performance.now();
    if (!this.#balancer) return { instance: null, displayName: null, latencyMs: 0, error: 'no profile service configured' };
    try {
      const res = await this.#balancer.fetch(`/profile?user=${encodeURIComponent(user)}`);
      const body = (await res.json()) as { instance?: string; displayName?: string };
      return { instance: body.instance ?? null, displayName: body.displayName ?? null, latencyMs: performance.now() - started };
    } catch (err) {
      debug('profile lookup failed: %s', (err as Error).message);
      return { instance: null, displayName: null, latencyMs: performance.now() - started, error: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.#balancer?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
