# syntax=docker/dockerfile:1
# One image for every role: the subcommand chooses (`serve`, `worker`,
# `migrate`, `reconcile --once`, `admin create-key`, `healthcheck`).
#
# Build: docker build -t estrade:local .
# Base images are pinned by tag; see compose/IMAGES.md for their digests.

# --- the web client -----------------------------------------------------
FROM node:20.20-bookworm AS client
WORKDIR /client
COPY client/package.json client/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY client/ ./
RUN npm run build

# --- build -------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
# sqlx checks queries against the committed .sqlx/ metadata: no database
# is needed (or reachable) at build time.
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p estrade \
 && install -D -m 0755 target/release/estrade /out/estrade \
 && strip /out/estrade

# --- runtime -----------------------------------------------------------
# distroless "cc": glibc and CA certificates, no shell, no package
# manager; the `nonroot` variant runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/estrade /usr/local/bin/estrade
# Served by `estrade serve` at /, /join/{code} and /check.
COPY --from=client /client/dist /usr/share/estrade/client
ENV ESTRADE_CLIENT_DIR=/usr/share/estrade/client
USER 65532:65532
# Writes nothing to its filesystem: runs with a read-only root.
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/estrade"]
CMD ["serve"]
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/estrade", "healthcheck", "--path", "/healthz"]
