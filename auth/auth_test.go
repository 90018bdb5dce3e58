package auth

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("same salt twice")
	}
	for _, c := range []struct {
		hash, pw string
		ok       bool
	}{
		{h, "correct horse battery", true},
		{h, "correct horse batterY", false},
		{h, "", false},
		{"$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAA", "x", false}, // absurd cost refused
		{"garbage", "x", false},
		{"$bcrypt$...", "x", false},
	} {
		if got := CheckPassword(c.hash, c.pw); got != c.ok {
			t.Errorf("CheckPassword(%.20q, %q) = %v", c.hash, c.pw, got)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("short password accepted")
	}
}

func TestSecrets(t *testing.T) {
	s, h := newSecret(TokenPrefix)
	if !looksLike(s, TokenPrefix) || looksLike(s, SessionPrefix) || string(hashSecret(s)) != string(h) {
		t.Fatalf("secret %q", s)
	}
	for _, bad := range []string{"", "hxw_", "hxw_short", TokenPrefix + strings.Repeat("!", 43), s + "x"} {
		if looksLike(bad, TokenPrefix) {
			t.Errorf("looksLike(%q)", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		r    Role
		p    Permission
		want bool
	}{
		{Admin, ManageAccounts, true}, {Planner, EditLayers, true}, {Operator, EditLayers, false},
		{Viewer, ReadMap, true}, {Device, ReadMap, false}, {Officer, ReadAudit, false}, {Role("root"), ReadMap, false},
		{Officer, ReportIncidents, true}, {Operator, ReportIncidents, true}, {Admin, ReportIncidents, true},
		{Device, ReportIncidents, false}, {Viewer, ReportIncidents, false}, {Planner, ReportIncidents, false},
	} {
		if got := c.r.Can(c.p); got != c.want {
			t.Errorf("%s can %s = %v", c.r, c.p, got)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("unknown role parsed")
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	h, _ := HashPassword("correct horse battery")
	for b.Loop() {
		CheckPassword(h, "correct horse battery")
	}
}
