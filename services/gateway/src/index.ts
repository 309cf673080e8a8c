export { buildGatewayApp, originAllowed, type GatewayDeps } from './app.js'
export { loadGatewayConfig, DEFAULT_WEB_ROOT, type GatewayConfig } from './config.js'
export { CONTENT_SECURITY_POLICY } from './plugins/security.js'
