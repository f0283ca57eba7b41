//go:build tools

package tools
import (
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/gobwas/ws"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/pressly/goose/v3"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "go.uber.org/goleak"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/time/rate"
	_ "github.com/Shopify/toxiproxy/v2"
)
