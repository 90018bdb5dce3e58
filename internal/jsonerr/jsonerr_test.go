package jsonerr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	var v struct{ N int }
	for in, want := range map[string]string{
		`{"N":`:     "malformed JSON",
		`{"N" 1}`:   "malformed JSON at byte 6",
		`{"N":"x"}`: `JSON field "N": want int, got string`,
	} {
		if got := Problem(json.Unmarshal([]byte(in), &v)); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q…", in, got, want)
		}
	}
}
