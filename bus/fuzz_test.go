package bus

import (
	"testing"
)

// FuzzDecode feeds a message from another node arbitrary bytes: no panic;
// what decodes encodes and decodes again to the same changes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`[{"seq":1,"layer":"gates","id":2,"op":"insert","before":null,"after":[114.1,22.5,114.1,22.5],"at":"2026-11-27T10:00:00Z"}]`,
		`[]`, `null`, `[{"seq":-1}]`, `[{"seq":1,"layer":"","id":0,"op":"upsert"}]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(cs)
		if err != nil {
			t.Fatalf("re-encoding %v: %v", cs, err)
		}
		cs2, err := Decode(again)
		if err != nil || len(cs2) != len(cs) {
			t.Fatalf("round trip of %q: %v, %d of %d changes", again, err, len(cs2), len(cs))
		}
		for i := range cs {
			if cs[i].Seq != cs2[i].Seq || cs[i].FeatureID != cs2[i].FeatureID || cs[i].Layer != cs2[i].Layer || cs[i].Op != cs2[i].Op {
				t.Fatalf("change %d: %+v became %+v", i, cs[i], cs2[i])
			}
		}
	})
}
