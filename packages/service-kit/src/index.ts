export * from './env.js'
export * from './logger.js'
export * from './metrics.js'
export { buildMetricsApp, quietClientError, quietNotFound } from './http.js'
