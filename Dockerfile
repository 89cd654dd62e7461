# One image for the proxy, the edge instances and the gateway of docker-compose.yml. It runs the plain-JS
# builds of `npm run build` (dist/local/*.js, dist/worker/): no TypeScript, no dev tooling at run time.

# Build: every dependency, then the worker bundle and the Node parts.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# Keep what the parts import at run time: the production dependencies, plus miniflare, which the edge
# runner needs to run workerd (a devDependency for the package's users, a runtime one for this image).
RUN npm pkg set "dependencies.miniflare=$(npm pkg get devDependencies.miniflare | tr -d '"')" \
 && npm pkg delete devDependencies.miniflare \
 && npm prune --omit=dev --offline --no-audit --no-fund

# Run: Node, NGINX for the gateway, and only the built files.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/local ./dist/local
COPY --from=build /app/dist/worker ./dist/worker
COPY nginx/nginx.conf.template ./nginx/
