/**
 * `{ ...defaults, ...options }`, except that a field set to `undefined` keeps its default (callers
 * forward optional fields as they are) and a `__proto__` key in parsed JSON cannot reach the prototype.
 */
export function withDefaults<D extends object>(defaults: D, options: object | undefined): D {
  const out = { ...defaults } as Record<string, unknown>;
  if (options) for (const [k, v] of Object.entries(options)) if (v !== undefined && k !== '__proto__') out[k] = v;
  return out as D;
}
