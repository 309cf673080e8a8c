export { buildGatewayApp, originAllowed, type GatewayDeps } from './app.js'
export { loadGatewayConfig, DEFAULT_WEB_ROOT, type GatewayConfig } from './config.js'
export { CONTENT_SECURITY_POLICY } from './plugins/security.js'
/** The gateway's own room hash and member id derivations (node:crypto), exported for the end-to-end test that ties them to the client's. */
export { memberIdOf, roomHashOf } from './ws/connection.js'
/** The same for protocol v2's join: the challenge check and the member id of a public key. */
export { isSmallOrderKey, memberIdOfPublicKey, verifyJoinV2 } from './ws/v2-join.js'
