# parley's image: one static binary on distroless. Built by docker-compose.yml; on its own:
#   docker build -t parley --build-arg VERSION=$(git describe --always) .
# The build stage names the Go release the project builds and tests with (issue 21: Go 1.27.3
# fixes the standard library's reachable vulnerabilities of 1.26.x).
FROM golang:1.27.3 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /parley ./cmd/parley

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /parley /parley
USER nonroot
# 9000: HTTP, REST and WebSocket; 9100: /metrics when PARLEY_METRICS_ADDR=:9100.
EXPOSE 9000 9100
# No shell in the image: `parley healthcheck` is the healthcheck (it GETs /readyz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["/parley", "healthcheck"]
ENTRYPOINT ["/parley"]
CMD ["serve"]
