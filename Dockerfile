# syntax=docker/dockerfile:1
#
# The copilot-runner images, two targets of one recipe:
# - the agent image (the last stage, so a plain build makes it): the job image of the agent
#   project's pipelines; GitLab runs the job script in it. Node, the Copilot CLI and git.
# - `--target webhook`: the image of the webhook Deployment (`copilot-runner serve`), which needs
#   neither Node, nor the CLI, nor git: the binary on a distroless base.
#
# Base images are build arguments so an air-gapped installation can build from its own mirror:
#   docker build --build-arg BUILDER_IMAGE=mirror.example/rust:1.95-bookworm \
#                --build-arg RUNTIME_IMAGE=mirror.example/debian:bookworm-slim \
#                --build-arg WEBHOOK_IMAGE=mirror.example/distroless/cc-debian12:nonroot .
#   docker build --target webhook … .
# The Copilot CLI comes from the npm registry (or the mirror npm is configured for, see
# NPM_REGISTRY below). Behind a TLS-intercepting proxy, pass the CA bundle to trust while
# building as the build secret `ca-bundle` (`--secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt`);
# it is used by cargo and npm and never stored in an image. `scripts/image` builds both images.

ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG WEBHOOK_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# --- builder: the release binary ------------------------------------------------------------
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY . .
# The registry and target folders are cache mounts, so a rebuild after a source change does not
# download or compile every dependency again; the binary is copied out of the cache in the same
# step because a cache mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    --mount=type=secret,id=ca-bundle \
    if [ -f /run/secrets/ca-bundle ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca-bundle; fi \
    && cargo build --release --locked --bin copilot-runner \
    && install -D -m 0755 target/release/copilot-runner /out/copilot-runner

# --- webhook: `copilot-runner serve` alone ----------------------------------------------------
FROM ${WEBHOOK_IMAGE} AS webhook

ARG WEBHOOK_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="copilot-runner-webhook" \
      org.opencontainers.image.description="The copilot-runner webhook service: turns GitLab events into agent pipelines" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${WEBHOOK_IMAGE}"

COPY --from=builder /out/copilot-runner /usr/local/bin/copilot-runner

# The same fixed numeric id as the agent image, so Kubernetes can verify `runAsNonRoot`; the
# base needs no account for it (distroless has no shell and no package manager either).
USER 10001:10001
CMD ["/usr/local/bin/copilot-runner", "serve"]

# --- agent: the job image -----------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS agent

ARG COPILOT_CLI_VERSION=1.0.102
ARG NPM_REGISTRY=https://registry.npmjs.org/

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian's own Node 18 runs the Copilot CLI's loader; the CLI's real program is a native binary
# in a per-platform optional dependency, so optional dependencies must be installed (never
# `--omit=optional`). A global install nests the platform packages under
# `@github/copilot/node_modules/@github/`, and Debian's npm 9 ignores the packages' `libc` field,
# so it fetches the musl build next to the glibc one: the musl copy (about 190 MB) is removed,
# since this Debian image runs the glibc one, and the build checks a glibc copy is left and that
# `copilot --version` starts through the loader on this Node. npm is needed only to install the
# CLI and is removed in the same layer, with every cache the install and the first start left.
# Package versions are not pinned: the Debian security archive drops superseded versions, so a
# pin would break the build at the next security update; the base image tag pins the release.
# hadolint ignore=DL3008
RUN --mount=type=secret,id=ca-bundle \
    if [ -f /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git nodejs npm \
    && npm install --global --prefix /usr/local --no-audit --no-fund --registry "${NPM_REGISTRY}" \
        "@github/copilot@${COPILOT_CLI_VERSION}" \
    && find /usr/local/lib/node_modules -depth -type d -name 'copilot-linuxmusl-*' -exec rm -rf {} + \
    && find /usr/local/lib/node_modules -type d -name 'copilot-linux-*' | grep -q . \
    && copilot --version \
    && npm cache clean --force \
    && apt-get purge -y --auto-remove npm \
    && rm -rf /var/lib/apt/lists/* /root/.npm /root/.copilot /root/.cache /tmp/*

# A fixed numeric id so Kubernetes can verify `runAsNonRoot`; the home holds the Copilot CLI's
# state (`~/.copilot`) and git's configuration.
RUN groupadd --gid 10001 copilot \
    && useradd --uid 10001 --gid copilot --create-home --home-dir /home/copilot --shell /bin/bash copilot

COPY --from=builder /out/copilot-runner /usr/local/bin/copilot-runner

USER 10001:10001
ENV HOME=/home/copilot
# The agent runs only inside its Landlock sandbox; the binary's default too, stated here so the
# image says what it promises.
ENV COPILOT_SANDBOX=require
WORKDIR /home/copilot

# No ENTRYPOINT on purpose: GitLab starts the job container with the image's entrypoint and
# feeds the job script to a shell, so an entrypoint that is not a shell would swallow the
# script. The webhook image runs `copilot-runner serve`.
CMD ["copilot-runner", "--help"]

# Labels last: the revision changes with every commit, and a build argument that steps use
# makes every later step miss the layer cache (the CLI install above would run again).
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="copilot-runner" \
      org.opencontainers.image.description="A GitHub-Copilot-powered coding agent for GitLab, run as a GitLab CI job" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
