export * from './postgres.js'
export * from './nats.js'
export * from './wait.js'
export * from './prefix.js'
