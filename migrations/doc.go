// Package migrations holds Hexward's SQL schema as numbered migrations,
// embedded in the binary and applied in order by Apply.
package migrations

import "embed"

// FS holds the migration files, named NNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
