// Package servicetest is what tests do when a real service they need (a
// broker, a server binary) is not there: under CI=true, where every service
// must run, the test fails; elsewhere it is skipped with the reason.
package servicetest

import (
	"fmt"
	"os"
	"testing"
)

// Missing fails t under CI=true and skips it otherwise, saying what is
// missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: every service the tests need must be running)", msg)
	}
	t.Skipf("%s; skipping (CI=true makes this a failure)", msg)
}
