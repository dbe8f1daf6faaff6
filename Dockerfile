# syntax=docker/dockerfile:1
#
# The AURA image: one static-enough binary on a distroless glibc base, run as
# an unprivileged user. The SQLite driver (mattn/go-sqlite3) is cgo, so the
# build needs CGO_ENABLED=1 and the runtime needs glibc: the builder and the
# runtime are the same Debian release (bookworm) so the binary finds the glibc
# it was linked against. See docs/deployment.md.
#
#   docker build -t aura:$(git describe --tags --always) --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm aura:TAG version

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# VERSION replaces the module version `aura version` and aura_build_info print
# (the build context has no .git, so the toolchain cannot stamp a revision).
ARG VERSION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/aura . \
 && /out/aura version \
 && mkdir -p /out/data/store

# base-debian12: glibc, CA certificates (S3, SMTP over TLS, KMS) and tzdata,
# no shell, no package manager. :nonroot runs as uid 65532.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/aura /usr/local/bin/aura
# The working directory holds the file store when storage.uri is left at
# file:// (a volume); with an S3 store nothing is written here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/aura
WORKDIR /var/lib/aura
USER 65532:65532
ENV AURA_ENV=production \
    AURA_SERVER_ADDR=:9999 \
    AURA_STORAGE_URI=file:///var/lib/aura/store
EXPOSE 9999
# No curl in the image: the binary checks itself (GET /api/health/live on
# server.addr). An `aura worker` container overrides it with
# `aura healthcheck --url http://127.0.0.1:9464/health` (its metrics.addr).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/aura", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/aura"]
CMD ["serve"]
