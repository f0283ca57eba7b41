package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

type logOptions struct {
	level  string
	format string
}

func (o *logOptions) register(f *envFlags) {
	f.str(&o.level, "log-level", "PARLEY_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	f.str(&o.format, "log-format", "PARLEY_LOG_FORMAT", "text", "log format: text or json")
}

func (o *logOptions) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.level)); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", o.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(o.format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", o.format)
}
