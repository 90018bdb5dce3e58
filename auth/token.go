package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Secret prefixes say what a secret is when one turns up in a log or a
// paste: an API token, a session, a first-run setup link.
const (
	TokenPrefix   = "hxw_"
	SessionPrefix = "hxs_"
	SetupPrefix   = "hxsetup_"
)

// newSecret returns a random 256-bit secret with its prefix, and the hash
// under which it is stored. Secrets are random, so a fast hash is enough:
// nobody can guess one from its hash.
func newSecret(prefix string) (secret string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// looksLike reports whether s has the shape of a secret with prefix, so
// that garbage is refused before any database look-up.
func looksLike(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	return ok && len(rest) == 43 && strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}
