package transport

import (
	"strings"
	"testing"
)

// ADR 0024: dev mode is on only when asked for, or when nothing verifies tokens otherwise.
func TestDevModeIsOnOnlyWhenAskedOrNothingConfigured(t *testing.T) {
	const secret = "a-real-production-secret-of-32-bytes!!"
	const jwks = "https://idp.example.com/.well-known/jwks.json"
	cases := []struct {
		name        string
		mode        DevMode
		secret      string
		jwks        string
		wantOn      bool
		wantErr     string
		wantWarning bool
	}{
		{name: "nothing configured", wantOn: true},
		{name: "secret", secret: secret},
		{name: "jwks", jwks: jwks},
		{name: "secret and jwks", secret: secret, jwks: jwks},
		{name: "asked with nothing else", mode: DevOn, wantOn: true},
		{name: "asked with a secret", mode: DevOn, secret: secret, wantOn: true, wantWarning: true},
		{name: "asked with secret and jwks", mode: DevOn, secret: secret, jwks: jwks, wantOn: true, wantWarning: true},
		{name: "asked with jwks alone", mode: DevOn, jwks: jwks, wantErr: "dev login signs HS256"},
		{name: "asked off with a secret", mode: DevOff, secret: secret},
		{name: "asked off with nothing", mode: DevOff, wantErr: "no token verification configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DevMode, cfg.JWTSecret, cfg.JWKSURL = c.mode, c.secret, c.jwks
			err := cfg.Validate()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Validate: %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DevMode.On() != c.wantOn {
				t.Errorf("dev mode %v, want on=%v", cfg.DevMode, c.wantOn)
			}
			if c.wantOn && c.secret == "" && c.jwks == "" && cfg.JWTSecret != DevJWTSecret {
				t.Errorf("dev mode without a secret did not get the built-in one")
			}
			if !c.wantOn && cfg.JWTSecret == DevJWTSecret {
				t.Errorf("the built-in secret is in use with dev mode off")
			}
			if got := cfg.DevModeRisk() != ""; got != c.wantWarning {
				t.Errorf("warning %q, want one: %v", cfg.DevModeRisk(), c.wantWarning)
			}
			// cmd/parley validates, then New validates again: the answer must not change
			// (the filled-in dev secret is not a configured one).
			again := cfg
			if err := again.Validate(); err != nil || again.DevMode != cfg.DevMode || again.JWTSecret != cfg.JWTSecret {
				t.Errorf("second Validate changed the result: %v %v", again.DevMode, err)
			}
		})
	}
}

func TestDevModeParsesLikeABoolOrAuto(t *testing.T) {
	for in, want := range map[string]DevMode{"true": DevOn, "1": DevOn, "TRUE": DevOn, "false": DevOff, "0": DevOff, "auto": DevAuto, "Auto": DevAuto} {
		m := DevOn
		if in == "auto" || in == "Auto" {
			m = DevOff
		}
		if err := m.Set(in); err != nil || m != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, m, err, want)
		}
	}
	var m DevMode
	if err := m.Set("yes please"); err == nil {
		t.Error("Set accepted nonsense")
	}
	if DevAuto.String() != "auto" || DevOn.String() != "true" || DevOff.String() != "false" {
		t.Error("String does not give the command-line spelling")
	}
}
