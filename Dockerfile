# drproxy container image.
#   docker build -t drproxy .
#   docker run -p 8080:8080 -p 9902:9902 -v $PWD/drproxy.yaml:/etc/drproxy/drproxy.yaml:ro drproxy
# The default config (deploy/docker/drproxy.yaml) has placeholder backends under .example, which
# never resolve: it starts and answers probes, and reaches nobody's machines until you mount yours.
#
# Build stage: compile TypeScript with the dev dependencies, and the native addon (os-lock:
# the state directory's fcntl lock) with a C toolchain against the image's own Node headers.
FROM node:26-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: production dependencies and the compiled output only.
FROM node:26-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The production dependencies as built above (the runtime image has no compiler).
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY config ./config
# State (epochs) lives in /var/lib/drproxy: mount a volume there so that epochs survive restarts.
RUN mkdir -p /etc/drproxy /var/lib/drproxy && chown -R node:node /var/lib/drproxy
COPY deploy/docker/drproxy.yaml /etc/drproxy/drproxy.yaml
USER node
VOLUME ["/var/lib/drproxy"]
# 8080: the data plane. 9902: admin.public_listen, GET /healthz, /readyz and /metrics only. The
# admin API itself (status, failover, …) stays on 127.0.0.1:9901, inside the container.
EXPOSE 8080 9902
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9902/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["--config", "/etc/drproxy/drproxy.yaml"]
