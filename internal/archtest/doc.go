// Package archtest holds no code: its test checks that the package arrows point one way,
// cmd -> transport -> actors -> persistence/cluster (issue 22), so the core never names the
// transport that serves it.
package archtest
