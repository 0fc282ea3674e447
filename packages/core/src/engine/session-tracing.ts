import { createRequire } from 'node:module';
import type { SessionObserver, SessionOutcome } from './session-observer.js';

type OtelApi = typeof import('@opentelemetry/api');

/** `@opentelemetry/api` when the app has it installed, looked up once per process; `null` when it has not. */
let api: OtelApi | null | undefined;
function otel(): OtelApi | null {
  if (api !== undefined) return api;
  try {
    api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
  } catch {
    api = null;
  }
  return api;
}

const FAILED: ReadonlySet<SessionOutcome | 'error'> = new Set(['503_unavailable', '503_timeout', 'lock_timeout', 'error']);

/**
 * The OpenTelemetry side of the session layer: a `scaleout.session.load` and a
 * `scaleout.session.save` span per request that loads or saves, with the store type and the
 * outcome, children of the request's active span. Spans are made when the step ends, with its
 * real start time, so the engine keeps one hook (the observer) for metrics and traces alike.
 * `undefined` when `@opentelemetry/api` is not installed: nothing is loaded, nothing runs.
 */
export class SessionTracing implements SessionObserver {
  readonly #api: OtelApi;
  readonly #storeType: string;
  // The api's no-op provider, to tell "no tracer provider set" apart without making spans.
  readonly #noop: unknown;

  static create(storeType: string): SessionTracing | undefined {
    const a = otel();
    return a ? new SessionTracing(a, storeType) : undefined;
  }

  private constructor(a: OtelApi, storeType: string) {
    this.#api = a;
    this.#storeType = storeType;
    this.#noop = new a.ProxyTracerProvider().getDelegate();
  }

  /** True once the app has set a tracer provider (checked per request: an SDK may start after the app). */
  get active(): boolean {
    const provider = this.#api.trace.getTracerProvider() as { getDelegate?: () => unknown };
    return typeof provider.getDelegate !== 'function' || provider.getDelegate() !== this.#noop;
  }

  outcome(): void {}
  lockWait(): void {}

  load(seconds: number, outcome: SessionOutcome | 'error'): void {
    this.#span('scaleout.session.load', seconds, outcome);
  }

  save(seconds: number, outcome: SessionOutcome | 'error'): void {
    this.#span('scaleout.session.save', seconds, outcome);
  }

  #span(name: string, seconds: number, outcome: SessionOutcome | 'error'): void {
    const { trace, SpanKind, SpanStatusCode } = this.#api;
    const end = Date.now();
    const span = trace.getTracer('@scaleout/core').startSpan(name, {
      kind: SpanKind.INTERNAL,
      startTime: end - seconds * 1000,
      attributes: { 'scaleout.store.type': this.#storeType, 'scaleout.session.outcome': outcome },
    });
    if (FAILED.has(outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    span.end(end);
  }
}

/** Tells two observers (metrics and traces) the same things. */
export function bothObservers(a: SessionObserver, b: SessionObserver): SessionObserver {
  return {
    outcome: (o) => (a.outcome(o), b.outcome(o)),
    load: (s, o) => (a.load(s, o), b.load(s, o)),
    save: (s, o) => (a.save(s, o), b.save(s, o)),
    lockWait: (s) => (a.lockWait(s), b.lockWait(s)),
  };
}
