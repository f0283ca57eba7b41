// Package migrations holds parley's schema as numbered goose SQL files, embedded in the
// binary so that `parley migrate` and start-up apply exactly the schema the code expects.
package migrations

import "embed"

// FS holds every migration file (NNNNN_title.sql, goose format).
//
//go:embed *.sql
var FS embed.FS
