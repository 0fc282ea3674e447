/** An HTTP client with its own cookie jar, as one browser: what the experiments drive. */
export class CookieClient {
  readonly jar = new Map<string, string>();

  /** Sends a request with this client's cookies and keeps the ones the answer sets. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (expired) this.jar.delete(name);
      else this.jar.set(name, pair.slice(i + 1).trim());
    }
    return res;
  }

  /** A JSON answer; anything but a 200 throws with the status and the start of the body. */
  async json<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<T> {
    const res = await this.request(url, init);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}

/** What the demo's `GET /api/count` answers. */
export interface CountAnswer {
  count: number;
  node: string;
}
