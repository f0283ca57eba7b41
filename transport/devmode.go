package transport

import (
	"fmt"
	"strconv"
	"strings"
)

// DevMode says whether the node runs in dev mode: POST /api/auth/dev/login mints a token for
// any username, and the built-in DevJWTSecret verifies tokens when no secret is configured.
// It is a setting with three values so that "not asked for" differs from "asked off"
// (ADR 0024): DevAuto, the zero value, is decided by Config.Validate.
type DevMode int

const (
	// DevAuto turns dev mode on only when no JWT secret and no JWKS URL is configured: the
	// embedded default of `make run`. Validate resolves it into DevOn or DevOff.
	DevAuto DevMode = iota
	// DevOn was asked for (--dev, PARLEY_DEV=true); it holds whatever else is configured.
	DevOn
	// DevOff was asked for (--dev=false, PARLEY_DEV=false).
	DevOff
)

// On reports whether dev mode is on. Before Validate, DevAuto reports false.
func (m DevMode) On() bool { return m == DevOn }

// String is the setting's spelling on the command line: "auto", "true" or "false".
func (m DevMode) String() string {
	switch m {
	case DevOn:
		return "true"
	case DevOff:
		return "false"
	}
	return "auto"
}

// Set parses a flag or environment value: a boolean as strconv.ParseBool reads it, or "auto".
func (m *DevMode) Set(s string) error {
	if strings.EqualFold(s, "auto") {
		*m = DevAuto
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true, false or auto")
	}
	*m = DevOff
	if on {
		*m = DevOn
	}
	return nil
}

// IsBoolFlag lets a bare --dev mean --dev=true.
func (m *DevMode) IsBoolFlag() bool { return true }

// resolveDevMode decides DevAuto and fills the dev secret when dev mode has no other. It runs
// in Validate, which may run more than once: a decided mode is not decided again, so the
// secret filled here never counts as a configured one.
func (c *Config) resolveDevMode() {
	if c.DevMode == DevAuto {
		c.DevMode = DevOff
		if c.JWTSecret == "" && c.JWKSURL == "" {
			c.DevMode = DevOn
		}
	}
	if c.DevMode.On() && c.JWTSecret == "" && c.JWKSURL == "" {
		c.JWTSecret = DevJWTSecret
	}
}

// DevModeRisk is the start-up warning for dev mode asked for next to real token
// verification (a configured secret or JWKS URL), or "" when there is nothing to warn about.
// Call it after Validate.
func (c *Config) DevModeRisk() string {
	if !c.DevMode.On() || (c.JWKSURL == "" && c.JWTSecret == DevJWTSecret) {
		return ""
	}
	return "dev mode is on although token verification is configured: anyone who reaches " +
		"POST /api/auth/dev/login can mint a token for any user and act as them; " +
		"remove --dev / PARLEY_DEV outside development"
}
