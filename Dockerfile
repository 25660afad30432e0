# syntax=docker/dockerfile:1
#
# vk and the ACI emulator in one small image: /vk (the entrypoint) and /aci-emulator (used by
# deploy/overlays/dev). Built by .github/workflows/image.yml:
#
#   docker build -t ghcr.io/vk-aci/vk:dev .
#
# Both binaries link glibc dynamically (TLS is rustls with ring, no OpenSSL), so the runtime
# image is distroless cc (glibc, libgcc) running as the nonroot user 65532.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches only speed up rebuilds (BuildKit); the binaries are copied out
# of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p vk -p vk-aci-emulator --bin vk --bin aci-emulator \
 && mkdir -p /out \
 && cp target/release/vk target/release/aci-emulator /out/

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/vk /vk
COPY --from=build /out/aci-emulator /aci-emulator
USER 65532:65532
# 10250: kubelet API, 10255: admin (/healthz, /readyz, /metrics).
EXPOSE 10250 10255
ENTRYPOINT ["/vk"]
