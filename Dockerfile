# syntax=docker/dockerfile:1
#
# Vigil container image.
#   docker build -t vigil .
#   docker run -e JWT_SECRET="$(openssl rand -base64 48)" -p 5150:5150 vigil
# See docker-compose.yml for a full stack (PostgreSQL + Redis).

############################
# Build stage
############################
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# 1) Dependency download, cached as a layer until Cargo.toml / Cargo.lock
#    change. Cargo needs every manifest of the workspace (the `migration`
#    path crate and the `vigil-bench` member included) and the declared
#    targets to exist, so stub them.
COPY Cargo.toml Cargo.lock ./
COPY migration/Cargo.toml migration/Cargo.toml
COPY vigil-bench/Cargo.toml vigil-bench/Cargo.toml
RUN mkdir -p src/bin migration/src vigil-bench/src \
 && echo 'fn main() {}' > src/bin/main.rs \
 && echo 'fn main() {}' > vigil-bench/src/main.rs \
 && touch src/lib.rs migration/src/lib.rs \
 && cargo fetch --locked \
 && rm -rf src migration/src vigil-bench/src

# 2) Real sources, then the release build. The target dir is a BuildKit
#    cache mount (incremental rebuilds), so the binary is copied out of it
#    within the same RUN.
COPY . .
# Shown in the app version string (`option_env!("BUILD_SHA")`).
ARG BUILD_SHA=dev
RUN --mount=type=cache,target=/build/target,sharing=locked \
    BUILD_SHA="${BUILD_SHA}" cargo build --release --locked --bin vigil-cli \
 && cp target/release/vigil-cli /usr/local/bin/vigil-cli

############################
# Runtime stage
############################
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 vigil \
 && useradd --system --uid 10001 --gid vigil --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin vigil

# Loco reads config/<LOCO_ENV>.yaml (and later config/rules/*.yaml) relative
# to the working directory. /app is writable by `vigil` for the SQLite
# fallback used when DATABASE_URL is not set.
WORKDIR /app
COPY --from=builder /usr/local/bin/vigil-cli /usr/local/bin/vigil-cli
COPY --chown=vigil:vigil config ./config
RUN chown vigil:vigil /app

ENV LOCO_ENV=production \
    BINDING=0.0.0.0 \
    PORT=5150

USER vigil:vigil
EXPOSE 5150

# /_health also checks the database (/_ping only checks the process).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:5150/_health || exit 1

ENTRYPOINT ["/usr/local/bin/vigil-cli"]
CMD ["start"]
