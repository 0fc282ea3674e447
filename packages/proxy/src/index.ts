export { createProxy, Proxy, type AccessEntry, type ProxyOptions } from './proxy.js';
export { metrics, type ProxyMetricsOptions } from './metrics.js';
export {
  parseProxyConfig,
  loadProxyConfig,
  DEFAULT_PROXY_CONFIG,
  TCP_ALGORITHMS,
  type ProxyConfig,
  type ProxyConfigInput,
  type Target,
  type TargetInput,
} from './config.js';
export { ProxyError, ProxyErrorCodes } from './errors.js';
export { Stickiness, readCookie } from './sticky.js';
export type { ProxyStats, StatusAction, StatusPageOptions } from './status-page.js';
export type { TargetStats, PinStats } from './pool.js';
export { exportHaproxy } from './export-haproxy.js';
export { exportNginx } from './export-nginx.js';
export { exportKeepalived, DEFAULT_KEEPALIVED_OPTIONS, type KeepalivedOptions } from './export-keepalived.js';
export type { ProxyHealth } from './health.js';
