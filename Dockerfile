# Portcullis: one static binary, CA certificates, nothing else.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /portcullis ./cmd/portcullis && mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /portcullis /portcullis
# The data dir (the outcome spool; with the embedded NATS server, its
# store), writable by the user the gateway runs as. Mount a volume there:
# outcomes NATS could not take wait in it across restarts. A named volume
# takes this directory's owner; a host directory mounted there must be
# writable by uid 65532.
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORTCULLIS_DATA_DIR=/data
VOLUME /data
USER 65532:65532
EXPOSE 9200
ENTRYPOINT ["/portcullis"]
CMD ["serve"]
