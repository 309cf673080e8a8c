# syntax=docker/dockerfile:1.7
#
# Images of the gateway and the vault, built from one pass over the monorepo.
# Build context: the repository root. Ignore rules: app.Dockerfile.dockerignore
# beside this file (BuildKit reads <Dockerfile>.dockerignore; the classic
# builder does not, so build with BuildKit, the default since Docker 23).
#
#   docker build -f infra/docker/app.Dockerfile --target gateway -t ephemeral-chat/gateway:0.1.0 .
#   docker build -f infra/docker/app.Dockerfile --target vault   -t ephemeral-chat/vault:0.1.0 .
#
# The base is pinned to an exact Node 24 LTS release. Pin its digest too once you
# can resolve it (no registry was reachable where this file was written):
#   docker buildx imagetools inspect node:24.21.0-bookworm-slim
# then write FROM node:24.21.0-bookworm-slim@sha256:<index digest> below.

FROM node:24.21.0-bookworm-slim AS node

# ---- Sources, and apart from them every package.json (root and workspaces,
# paths kept) with the lockfile: the npm ci layer below is reused for as long
# as those files do not change, whatever workspaces come and go.
FROM node AS sources
WORKDIR /src
COPY . .
RUN mkdir /manifests \
    && find . -name package.json -not -path '*/node_modules/*' -print0 \
       | tar --null -cf - -T - package-lock.json \
       | tar -xf - -C /manifests

# ---- Build: every dependency, TypeScript project references, web bundle.
FROM node AS build
WORKDIR /src
COPY --from=sources /manifests/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY --from=sources /src/ ./
RUN npx tsc -b && npm run build -w web

# ---- Runtime trees: infra/docker/runtime-tree.sh installs the service's
# production dependencies only (npm ci --omit=dev --workspace; no service or the
# web client depends on another workspace for its tests, so nothing else comes
# along) and copies node_modules, and package.json + dist/src of each workspace
# npm linked, into /tree.
FROM build AS gateway-tree
RUN --mount=type=cache,target=/root/.npm \
    sh infra/docker/runtime-tree.sh services/gateway /tree web/dist

FROM build AS vault-tree
RUN --mount=type=cache,target=/root/.npm \
    sh infra/docker/runtime-tree.sh services/vault /tree

# ---- Runtime base: no package manager, an unprivileged user with a fixed uid.
# /bin/sleep (coreutils) stays: the Kubernetes preStop hook runs it.
FROM node AS runtime
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
        /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
WORKDIR /app
LABEL org.opencontainers.image.licenses="AGPL-3.0-or-later"

# ---- gateway: WebSocket endpoint and the static web client (web/dist).
# Files stay owned by root: the process can read its code, not rewrite it.
FROM runtime AS gateway
COPY --from=gateway-tree /tree/ ./
LABEL org.opencontainers.image.title="ephemeral-chat-gateway"
ENV PORT=3000 HOST=0.0.0.0
EXPOSE 3000
USER 10001:10001
# Exec form, node as PID 1: SIGTERM reaches the server's own drain handler
# (npm start would swallow it).
CMD ["node", "services/gateway/dist/src/server.js"]

# ---- vault: NATS worker; the same image runs the schema migrations as a Job
# with command ["node", "services/vault/dist/src/migrate.js"].
FROM runtime AS vault
COPY --from=vault-tree /tree/ ./
LABEL org.opencontainers.image.title="ephemeral-chat-vault"
ENV PORT=3001
EXPOSE 3001
USER 10001:10001
CMD ["node", "services/vault/dist/src/server.js"]
