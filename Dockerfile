# syntax=docker/dockerfile:1
#
# One image for every LogFlow role: the container's command picks it
# (`api`, `processor`, `alerting`, `shipper ...`, `generator ...`), see
# docker-compose.yml. Build: `docker build -t logflow .` (BuildKit, the
# default builder since Docker 23, for the cache mounts below).

# --- build ------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# OpenSSL for native-tls (reqwest, lettre). librdkafka is compiled from
# source by rdkafka-sys with gcc/g++/make, which the rust image already has.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Dependency caching: the crates.io registry, the git checkouts and the
# target directory live in BuildKit cache mounts that survive between
# builds, so a source change recompiles only our own crates (cargo's own
# fingerprints decide; no stub-crate tricks). The cache mount is not part
# of the image, hence the copy of the binary out of it.
RUN --mount=type=cache,id=logflow-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=logflow-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=logflow-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bin logflow \
 && install -m 0755 target/release/logflow /usr/local/bin/logflow

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

# libssl3 for native-tls, zlib for librdkafka, ca-certificates for https
# webhooks and SMTP, curl for the compose health checks.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g curl \
 && rm -rf /var/lib/apt/lists/*

# A non-root user. /data (indexes, checkpoints) and /logs (files for the
# shipper) belong to it, so named volumes mounted there start writable.
RUN groupadd --system --gid 10001 logflow \
 && useradd --system --uid 10001 --gid logflow --home-dir /data --no-create-home --shell /usr/sbin/nologin logflow \
 && mkdir -p /data /logs \
 && chown logflow:logflow /data /logs

COPY --from=builder /usr/local/bin/logflow /usr/local/bin/logflow

# Numeric, so a runtime can tell it is not root (Kubernetes runAsNonRoot).
USER 10001:10001
WORKDIR /data
ENV LOGFLOW_DATA_DIR=/data

# api: 8000 (REST API, /docs, /metrics); processor, shipper, alerting:
# 9100 (/metrics when LOGFLOW_METRICS_ADDR is set).
EXPOSE 8000 9100

ENTRYPOINT ["logflow"]
CMD ["--help"]
