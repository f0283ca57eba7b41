package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/transport/api"
)

// envFlags is a flag.FlagSet whose flags also read an environment variable. Precedence:
// command-line flag, then environment, then the default. Usage names both.
type envFlags struct {
	*flag.FlagSet
	env      map[string]string // flag name → env var
	explicit map[string]bool   // set by flag or environment
	footer   string            // printed after the flags: settings that are not flags
}

func newEnvFlags(name, synopsis string) *envFlags {
	f := &envFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}, explicit: map[string]bool{}}
	f.Usage = func() {
		out := f.Output()
		fmt.Fprintf(out, "usage: parley %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown):\n", name, synopsis)
		f.VisitAll(func(fl *flag.Flag) {
			typ, usage := flag.UnquoteUsage(fl)
			if t, ok := fl.Value.(interface{ Type() string }); ok {
				typ = t.Type()
			}
			fmt.Fprintf(out, "  --%s %s\n    \t%s", fl.Name, typ, usage)
			if e := f.env[fl.Name]; e != "" {
				fmt.Fprintf(out, " [$%s]", e)
			}
			if fl.DefValue != "" && fl.DefValue != "[]" {
				fmt.Fprintf(out, " (default %s)", fl.DefValue)
			}
			fmt.Fprintln(out)
		})
		if f.footer != "" {
			fmt.Fprintf(out, "\n%s\n", f.footer)
		}
	}
	return f
}

func (f *envFlags) bind(name, env string) { f.env[name] = env }

func (f *envFlags) str(p *string, name, env, def, usage string) {
	f.StringVar(p, name, def, usage)
	f.bind(name, env)
}

func (f *envFlags) integer(p *int, name, env string, def int, usage string) {
	f.IntVar(p, name, def, usage)
	f.bind(name, env)
}

func (f *envFlags) int64(p *int64, name, env string, def int64, usage string) {
	f.bind(name, env)
	f.Int64Var(p, name, def, usage)
}

func (f *envFlags) float(p *float64, name, env string, def float64, usage string) {
	f.Float64Var(p, name, def, usage)
	f.bind(name, env)
}

func (f *envFlags) boolean(p *bool, name, env string, def bool, usage string) {
	f.BoolVar(p, name, def, usage)
	f.bind(name, env)
}

func (f *envFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	*p = def
	f.Var((*durationValue)(p), name, usage)
	f.bind(name, env)
}

// durationValue is flag.DurationVar's value with an error that says what is wrong: the
// flag package's own answers a bare "10" with "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return fmt.Errorf("%q has no unit: want a duration such as %[1]ss or %[1]sms", s)
		}
		return fmt.Errorf("%q: want a duration with a unit (ns, us, ms, s, m, h), e.g. 10s or 1m30s", s)
	}
	*d = durationValue(v)
	return nil
}

// value binds a flag.Value, whose String is the default shown in the help.
func (f *envFlags) value(p flag.Value, name, env, usage string) {
	f.Var(p, name, usage)
	f.bind(name, env)
}

// list is a comma-separated flag value.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	*l = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func (f *envFlags) strings(p *[]string, name, env, usage string) {
	f.Var((*list)(p), name, usage)
	f.bind(name, env)
}

// parse applies the environment, then the arguments. Errors are one line naming the
// variable or flag.
func (f *envFlags) parse(args []string) error {
	var err error
	f.VisitAll(func(fl *flag.Flag) {
		e := f.env[fl.Name]
		v, ok := os.LookupEnv(e)
		if e == "" || !ok || err != nil {
			return
		}
		if serr := f.Set(fl.Name, v); serr != nil {
			err = fmt.Errorf("$%s=%q: %v", e, v, serr)
		}
		f.explicit[fl.Name] = true
	})
	if err != nil {
		return err
	}
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	f.Visit(func(fl *flag.Flag) { f.explicit[fl.Name] = true })
	return nil
}

// limitFlag is a rate limit flag value: "RATE,BURST", requests a second and at once.
type limitFlag api.Limit

func (l *limitFlag) String() string {
	if l == nil || *l == (limitFlag{}) {
		return ""
	}
	return strconv.FormatFloat(l.Rate, 'g', -1, 64) + "," + strconv.Itoa(l.Burst)
}

func (l *limitFlag) Set(v string) error {
	r, b, ok := strings.Cut(v, ",")
	rate, err1 := strconv.ParseFloat(strings.TrimSpace(r), 64)
	burst, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || rate <= 0 || math.IsInf(rate, 0) || burst < 1 {
		return fmt.Errorf("want RATE,BURST: requests a second (> 0) and at once (>= 1), e.g. 10,100")
	}
	*l = limitFlag{Rate: rate, Burst: burst}
	return nil
}

func (f *envFlags) limit(p *api.Limit, name, env string, def api.Limit, usage string) {
	*p = def
	f.Var((*limitFlag)(p), name, usage)
	f.bind(name, env)
}
