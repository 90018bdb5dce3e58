package mqttingest

import (
	"strings"
	"testing"
)

// FuzzParseTopic: any topic either names an account and a kind of the
// scheme hexward/<account>/<readings|positions>, or is refused.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"hexward/dev-1/readings", "hexward/phone/positions", "hexward//readings", "hexward/a/b/readings", "x/y/z", "", "hexward/+/readings"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		kind, account, ok := parseTopic(topic)
		if !ok {
			return
		}
		if kind != "readings" && kind != "positions" {
			t.Fatalf("%q: kind %q", topic, kind)
		}
		if strings.Contains(account, "/") || "hexward/"+account+"/"+kind != topic {
			t.Fatalf("%q: account %q", topic, account)
		}
	})
}
