# Portcullis: one static binary, CA certificates, nothing else.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /portcullis ./cmd/portcullis

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /portcullis /portcullis
USER 65532:65532
EXPOSE 9200
ENTRYPOINT ["/portcullis"]
CMD ["serve"]
