# syntax=docker/dockerfile:1
#
# The copilot-runner image: the job image of the agent project's pipelines (GitLab runs the job
# script in it) and the image of the webhook Deployment (`copilot-runner serve`).
#
# Base images are build arguments so an air-gapped installation can build from its own mirror:
#   docker build --build-arg BUILDER_IMAGE=mirror.example/rust:1.95-bookworm \
#                --build-arg RUNTIME_IMAGE=mirror.example/debian:bookworm-slim .
# The Copilot CLI comes from the npm registry (or the mirror npm is configured for, see
# NPM_REGISTRY below).

ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- builder: the release binary ------------------------------------------------------------
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY . .
# The registry and target folders are cache mounts, so a rebuild after a source change does not
# download or compile every dependency again; the binary is copied out of the cache in the same
# step because a cache mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin copilot-runner \
    && install -D -m 0755 target/release/copilot-runner /out/copilot-runner

# --- runtime --------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

ARG RUNTIME_IMAGE
ARG COPILOT_CLI_VERSION=1.0.102
ARG NPM_REGISTRY=https://registry.npmjs.org/
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="copilot-runner" \
      org.opencontainers.image.description="A GitHub-Copilot-powered coding agent for GitLab, run as a GitLab CI job" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian's own Node 18 runs the Copilot CLI's loader; the CLI's real program is a native binary
# in a per-platform optional dependency, so optional dependencies must be installed (never
# `--omit=optional`); `copilot --version` proves the loader found it on this Node. npm is
# needed only to install the CLI and is removed in the same layer.
# Package versions are not pinned: the Debian security archive drops superseded versions, so a
# pin would break the build at the next security update; the base image tag pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git nodejs npm \
    && npm install --global --prefix /usr/local --no-audit --no-fund --registry "${NPM_REGISTRY}" \
        "@github/copilot@${COPILOT_CLI_VERSION}" \
    && ls -d /usr/local/lib/node_modules/@github/copilot-linux-* \
    && copilot --version \
    && npm cache clean --force \
    && apt-get purge -y --auto-remove npm \
    && rm -rf /var/lib/apt/lists/* /root/.npm /root/.copilot /tmp/*

COPY --from=builder /out/copilot-runner /usr/local/bin/copilot-runner

# A fixed numeric id so Kubernetes can verify `runAsNonRoot`; the home holds the Copilot CLI's
# state (`~/.copilot`) and git's configuration.
RUN groupadd --gid 10001 copilot \
    && useradd --uid 10001 --gid copilot --create-home --home-dir /home/copilot --shell /bin/bash copilot

USER 10001:10001
ENV HOME=/home/copilot
WORKDIR /home/copilot

# No ENTRYPOINT on purpose: GitLab starts the job container with the image's entrypoint and
# feeds the job script to a shell, so an entrypoint that is not a shell would swallow the
# script. The webhook Deployment sets its own command (`copilot-runner serve`).
CMD ["copilot-runner", "--help"]
