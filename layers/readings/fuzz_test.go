package readings

import (
	"errors"
	"testing"
)

// FuzzDecodeBatch feeds the readings batch (the HTTP body and the MQTT
// payload) arbitrary bytes: no panic, and either readings or an
// *InputError naming the problem.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"readings":[{"sensor":1,"ts":"2026-11-27T10:00:00Z","value":1.5}]}`,
		`{"readings":[]}`, `{"readings":null}`, `{"readings":[{"sensor":"x"}]}`, `{"readings":[{"sensor":1,"ts":"yesterday","value":1}]}`,
		`{"readings":[{"sensor":1,"ts":"2026-11-27T10:00:00Z","value":1,"extra":2}]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := DecodeBatch(data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Problem == "" {
				t.Fatalf("error %T %q is not an InputError", err, err)
			}
			if rs != nil {
				t.Fatalf("readings and an error: %v", err)
			}
		}
	})
}
