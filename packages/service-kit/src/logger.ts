/**
 * Logger options for both services: pino at `warn` unless told otherwise, and
 * redaction of every field that could carry an identifier or a secret, in case
 * one ever reaches a log call by mistake. Log lines hold lifecycle events and
 * error codes only.
 */
import type { LoggerOptions } from 'pino'
import type { LogLevel } from './env.js'

export const REDACTED_PATHS = [
  'roomId', 'roomHash', 'memberId', 'memberSecret', 'id', 'iv', 'ct', 'text', 'from', 'to', 'recipients', 'gatewayId',
  'subject', 'data', 'ip', 'address', 'remoteAddress', 'req', 'res', 'headers', 'url',
  '*.roomId', '*.roomHash', '*.memberId', '*.memberSecret', '*.id', '*.iv', '*.ct', '*.text', '*.subject', '*.data', '*.ip', '*.remoteAddress', '*.headers', '*.url'
]

export function loggerOptions (name: string, level: LogLevel): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // No hostname or pid: neither helps and both identify the machine.
    base: { service: name }
  }
}
