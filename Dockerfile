# The decision server as an image. No Docker engine runs on the project's CI machine, so CI
# (.ci/run) builds the same thing without one: `npm run build`, then the bundle beside a fresh
# `npm ci --omit=dev`, started with `npm start` and checked with `npm run health` and
# `npm run validate`. test/deploy/container.test.ts keeps this file and that path in step.

# --- build: dev dependencies (esbuild, tsx) bundle server/main.ts into dist/server.mjs --------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY core ./core
COPY server ./server
RUN npm run build

# --- run: production dependencies only, the bundle, a non-root user ------------------------
FROM node:20-bookworm-slim AS run
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    JOURNAL_DIR=/var/lib/pacer/journal \
    DATA_DIR=/var/lib/pacer/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The spend journal must outlive the container while Redis is down, and without DATABASE_URL the
# embedded database (PGlite) lives in DATA_DIR: mount volumes on both.
RUN mkdir -p /var/lib/pacer/journal /var/lib/pacer/data && chown -R node:node /var/lib/pacer
VOLUME ["/var/lib/pacer/journal", "/var/lib/pacer/data"]
USER node
EXPOSE 8080
# Ready = campaigns loaded and journal replayed; a degraded instance (Redis away) is still ready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is PID 1, not npm: it receives SIGTERM and drains, flushes spend and returns leases
# (server/main.ts). Same flags as `npm start`.
CMD ["node", "--max-semi-space-size=8", "dist/server.mjs"]
