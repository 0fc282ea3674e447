export * from './ports.js';
export * from './http.js';
export * from './prometheus.js';
