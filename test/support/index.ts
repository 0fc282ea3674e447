export * from './http.js';
export * from './prometheus.js';
