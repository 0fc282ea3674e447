export * from './ports.js';
export * from './http.js';
