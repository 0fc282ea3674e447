/**
 * `@scaleout/balancer`: a client-side load balancer for service-to-service calls. The algorithms,
 * the endpoint set, health checks and outlier ejection are shared with `@scaleout/proxy`.
 * @module
 */
export * from './errors.js';
export { parseDuration, type Duration } from './duration.js';
export { hash32 } from './hash.js';
export { Endpoint, DEFAULT_EWMA_DECAY_MS, FAILURE_SAMPLE_MS, formatAddress, type EndpointOptions, type UrlEndpointOptions, type AddressEndpointOptions, type EndpointAddress, type EndpointStats, type Outcome, type EndpointObserver } from './endpoint.js';
export { EndpointSet, DEFAULT_ENDPOINT_SET, LEAST_LOADED, type EndpointSetOptions, type EndpointSetEvent, type TaggedCandidates } from './endpoint-set.js';
export { LoadIndex } from './load-index.js';
export { OutlierDetector, DEFAULT_OUTLIER, type OutlierOptions } from './outlier-detector.js';
export { RetryBudget, backoffDelay, type RetryBudgetStats } from './retry-budget.js';
export { HealthChecker, DEFAULT_HEALTH_CHECK, type HealthCheckOptions } from './health-check.js';
export * from './algorithms/index.js';
export { Balancer, createBalancer, type BalancerRequestInit, type BalancerStats, type AttemptEvent } from './balancer.js';
export { DEFAULT_BALANCER, DEFAULT_RETRY, type BalancerOptions, type RetryOptions, type HedgeOptions } from './balancer-options.js';
export { Discovery, DEFAULT_DISCOVERY, type DiscoveryOptions, type PollDiscovery, type DnsDiscovery } from './discovery.js';
export { startAttempt, type Attempt, type TryResult } from './attempt.js';
export { collectMetrics, metrics, type MetricsOptions, type MetricsRegistry, type BalancerMetricsOptions } from './metrics.js';
