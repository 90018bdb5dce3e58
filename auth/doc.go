// Package auth decides who may see and do what in Hexward: accounts with
// roles and an area scope, passwords hashed with argon2id, browser
// sessions with CSRF tokens, API tokens for scripts and devices (shown
// once, stored hashed, revocable, expiring), the permission each role
// holds, and the append-only audit log.
//
// It is a top-level package rather than part of web because every way in
// (HTTP today; MQTT devices and websockets next) must ask the same
// questions of the same accounts.
package auth
