# One image for every Node part of docker-compose.yml: the REST proxy, the edge instances (workerd through
# Miniflare) and the NGINX gateway. It runs the plain-JS builds of `npm run build` (dist/local/*.js,
# dist/worker/): no TypeScript, no dev tooling at run time. Default command: one edge instance.

# Build: every dependency, then the worker bundle and the Node parts.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN npm run build
# Keep what the parts import at run time (dist/local/*.js): ioredis and @ioredis/commands for the REST
# proxy, miniflare for the edge runner. They are devDependencies of the package, whose users install only
# what dist/index.js imports; this image promotes them to dependencies (at the locked versions) and drops
# the rest. sharp (17 MB with libvips) serves Miniflare's Images binding only, imported on first use: no
# worker here binds images.
RUN for part in miniflare ioredis @ioredis/commands; do \
      npm pkg set "dependencies.$part=$(npm pkg get "devDependencies.$part" | tr -d '"')" \
      && npm pkg delete "devDependencies.$part" || exit 1; \
    done \
 && npm prune --omit=dev --omit=peer --offline --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/sharp node_modules/@img

# Run: Node, NGINX for the gateway, and only the built files, owned by root and run by an unprivileged user.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin edge
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/local ./dist/local
COPY --from=build /app/dist/worker ./dist/worker
COPY nginx/nginx.conf.template ./nginx/
COPY local/support/http-ok.sh /usr/local/bin/http-ok
USER edge
CMD ["node", "dist/local/edge.js", "--host", "0.0.0.0", "--port", "8787"]
