# Portcullis: one static binary on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /portcullis ./cmd/portcullis

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /portcullis /portcullis
EXPOSE 9200
ENTRYPOINT ["/portcullis"]
CMD ["serve"]
