# The edge-upgrade worker image (also carries the CLI). Build: docker build -t edge-upgrade-worker .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/transpile.mjs scripts/bundle-workflows.mjs ./scripts/
# Checks the types, compiles, then prebundles the workflows (dist/workflow-bundle.js) so the worker skips webpack at start.
RUN npx tsc -p tsconfig.build.json --noEmit && npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
USER 10001
# Prometheus metrics (metricsAddress) and the probes' /livez and /readyz (healthAddress).
EXPOSE 9464 8080
# Run through the bin's #! line, which carries the worker's memory settings (docs/sizing.md).
ENTRYPOINT ["/app/bin/edge-upgrade.js"]
CMD ["worker"]
