# adsctl in a small image: built from this repository alone, run as a non-root user, nothing fetched at run time.
#
#   docker build -t ghcr.io/OWNER/adsctl:0.1.0 .         # once per adsctl version, then push it
#   docker run --rm -v "$PWD:/work" -w /work ghcr.io/OWNER/adsctl:0.1.0 validate .
#
# The binary is /usr/local/bin/adsctl (the CI recipe in examples/ci/ copies it out of the image, so that no CI job
# compiles adsctl). It is self-contained apart from glibc: TLS roots are built in (rustls with webpki roots) and
# the allocator (jemalloc) is linked statically.

# --- build ---------------------------------------------------------------------------------------------------
# The toolchain adsctl is developed and tested with (the locked dependencies need Rust 1.91 or newer).
FROM rust:1.95-bookworm AS build
WORKDIR /src
# What `cargo build` reads: the manifest and lock file, the sources, the bench targets Cargo.toml declares, and
# the workspace's other crates (the emulator and the HTTP serving code, which adsctl depends on).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY crates ./crates
# Only the dependencies the lock file names, at its exact versions; the caches survive between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin adsctl \
    && install -D -m 0755 target/release/adsctl /out/adsctl

# --- runtime -------------------------------------------------------------------------------------------------
# Distroless: glibc, libgcc and CA certificates, no shell, no package manager (about 25 MB with adsctl).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/adsctl /usr/local/bin/adsctl
# The distroless `nonroot` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /work
# `adsctl watch` serves its status here when started with --listen 0.0.0.0:9464 (which needs ADSCTL_STATUS_TOKEN).
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/adsctl"]
CMD ["--help"]
