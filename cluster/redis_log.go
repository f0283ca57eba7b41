package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RouteRedisLogs sends go-redis's own log lines (pool dial failures and the like, printed
// unstructured to stderr by default: 31 of them in a 10 s outage) to logger at debug level.
// The bus and the dependency trackers already report Redis going down and coming back
// (ADR 0028). go-redis keeps its logger in a process-wide variable, so this is for a
// program's main to call once, not for a component.
func RouteRedisLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger.With("component", "go-redis")})
}

// redisLogger satisfies go-redis's internal Logging interface (Printf with a context).
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !r.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	r.l.DebugContext(ctx, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
