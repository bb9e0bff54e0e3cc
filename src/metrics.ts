/** The metrics now live in src/metrics/ (one concept per file); this keeps old imports working. */
export * from './metrics/index.js';
