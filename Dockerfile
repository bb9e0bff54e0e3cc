# drproxy container image.
#   docker build -t drproxy .
#   docker run -p 8080:8080 -v $PWD/config/drproxy.yaml:/etc/drproxy/drproxy.yaml:ro drproxy
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
RUN mkdir -p /etc/drproxy /var/lib/drproxy \
 && sed 's#dir: ./var/drproxy#dir: /var/lib/drproxy#' config/drproxy.example.yaml > /etc/drproxy/drproxy.yaml \
 && chown -R node:node /var/lib/drproxy
USER node
VOLUME ["/var/lib/drproxy"]
EXPOSE 8080 9901
# The admin listener answers /healthz; the default config binds it to 127.0.0.1:9901, which is
# reachable from inside the container.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9901/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["--config", "/etc/drproxy/drproxy.yaml"]
