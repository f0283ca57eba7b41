package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that Verify never panics, reports every failure as ErrInvalidToken,
// and accepts only HS256 tokens whose MAC under the test secret is correct. The committed
// corpus in testdata/fuzz/FuzzVerify holds tokens that are valid at t0.
func FuzzVerify(f *testing.F) {
	secret := []byte(testSecret)
	f.Add(sign(f, jwt.SigningMethodHS256, secret, "", baseClaims()))
	f.Add(rawToken(f, map[string]string{"alg": "none"}, baseClaims(), nil))
	f.Add(sign(f, jwt.SigningMethodHS512, secret, "", baseClaims()))
	f.Add("a.b.c")

	v, err := newVerifier(Config{HS256Secret: testSecret}, nil, nil, func() time.Time { return t0 }, minRefetchInterval)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(t.Context(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d segments", len(parts))
		}
		var header struct {
			Alg string `json:"alg"`
		}
		hb, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "HS256" {
			t.Fatalf("accepted a token whose header is not HS256: %q", hb)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatalf("accepted a token not signed by the test secret: %q", raw)
		}
		if id.Subject == "" || !usernameRE.MatchString(id.Username) || id.ExpiresAt.IsZero() {
			t.Fatalf("accepted token gave a bad identity %+v", id)
		}
	})
}

// TestFuzzCorpusValidSeeds keeps the committed corpus honest: the seeds named valid* must
// verify, so the fuzzer starts from tokens that reach the end of Verify.
func TestFuzzCorpusValidSeeds(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzVerify/valid*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid seeds: %v", err)
	}
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a fuzz corpus file", file)
		}
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Errorf("%s does not verify: %v", file, err)
		}
	}
}
