# The todo-host image, for people with Docker (`docker build -t todo-host .`).
# scripts/image.sh builds the same image without a daemon; both lay out its
# files with `scripts/image.sh --rootfs`. A static (musl) todo-host as the
# entrypoint, a non-root user, no shell; the app under /app.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Builds the components and the static host, then lays out the image's files.
RUN scripts/image.sh --rootfs /out

FROM scratch
COPY --from=build /out/ /
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV TODO_DATA_DIR=/data HOME=/data SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# 80: what spin-operator's executor listens on; 3000: the default command's port.
EXPOSE 80 3000
ENTRYPOINT ["/usr/local/bin/todo-host"]
CMD ["up", "--listen", "0.0.0.0:3000", "-f", "/app/spin.toml"]
