package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors of the account store.
var (
	ErrBadCredentials  = errors.New("wrong user name or password")
	ErrUnauthenticated = errors.New("not signed in or the credentials have expired")
	ErrUserExists      = errors.New("a user with that name exists")
	ErrNoSuchUser      = errors.New("no such user")
	ErrNoSuchToken     = errors.New("no such token")
)

// SessionTTL is how long a browser session lasts.
const SessionTTL = 12 * time.Hour

// Principal is an authenticated caller.
type Principal struct {
	UserID int64  `json:"-"`
	User   string `json:"user"`
	Role   Role   `json:"role"`
	Scope  string `json:"scope"`
	Demo   bool   `json:"demo,omitempty"`
	CSRF   string `json:"csrf,omitempty"` // set for a browser session
	Via    string `json:"-"`              // "session" or "token"
}

// CacheTTL is how long a checked token or session is trusted without
// asking the database again: every map tile is a request, and a database
// round trip for each would cost more than the tile. Revocation and
// sign-out on this node take effect at once; on other nodes within CacheTTL.
const CacheTTL = 10 * time.Second

type cached struct {
	p     Principal
	until time.Time
}

// Accounts stores users, sessions and API tokens in PostgreSQL.
type Accounts struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	cache map[string]cached // hash of a token or session secret → principal
	// scopeExists checks an area code; nil accepts any.
	scopeExists func(ctx context.Context, code string) (bool, error)
	dummy       string // a hash to check against for unknown users
}

// NewAccounts returns the account store. scopeExists, when not nil, is
// asked whether an area code names an area.
func NewAccounts(pool *pgxpool.Pool, scopeExists func(ctx context.Context, code string) (bool, error)) *Accounts {
	dummy, _ := HashPassword("no user has this password")
	return &Accounts{pool: pool, scopeExists: scopeExists, dummy: dummy, cache: map[string]cached{}}
}

// NewUser describes a user to create.
type NewUser struct {
	Name     string
	Role     Role
	Scope    string
	Password string // empty: no password login (devices sign in with tokens)
	Demo     bool
}

// CreateUser adds a user.
func (a *Accounts) CreateUser(ctx context.Context, u NewUser) (Principal, error) {
	if _, err := ParseRole(string(u.Role)); err != nil {
		return Principal{}, err
	}
	if err := checkNewUser(u.Name, u.Password); err != nil {
		return Principal{}, err
	}
	if u.Scope != "" && a.scopeExists != nil {
		ok, err := a.scopeExists(ctx, u.Scope)
		if err != nil {
			return Principal{}, err
		}
		if !ok {
			return Principal{}, fmt.Errorf("no area has code %q", u.Scope)
		}
	}
	var hash *string
	if u.Password != "" {
		h, err := HashPassword(u.Password)
		if err != nil {
			return Principal{}, err
		}
		hash = &h
	}
	p := Principal{User: u.Name, Role: u.Role, Scope: u.Scope, Demo: u.Demo}
	err := a.pool.QueryRow(ctx, `INSERT INTO users (name, role, scope, password_hash, demo) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Name, u.Role, u.Scope, hash, u.Demo).Scan(&p.UserID)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return Principal{}, ErrUserExists
	}
	return p, err
}

var userNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.@-]{0,63}$`)

func checkNewUser(name, password string) error {
	if !userNameRe.MatchString(name) {
		return fmt.Errorf("user name %q: use 1-64 lower-case letters, digits and . _ @ -", name)
	}
	if password != "" && (len(password) < MinPasswordLen || len(password) > 1024) {
		return fmt.Errorf("a password needs %d to 1024 characters", MinPasswordLen)
	}
	return nil
}

// Users lists the users.
func (a *Accounts) Users(ctx context.Context) ([]Principal, error) {
	rows, err := a.pool.Query(ctx, `SELECT id, name, role, scope, demo FROM users WHERE NOT disabled ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Principal, error) {
		var p Principal
		err := r.Scan(&p.UserID, &p.User, &p.Role, &p.Scope, &p.Demo)
		return p, err
	})
}

// CountUsers returns the number of users.
func (a *Accounts) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := a.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// Login checks a password and opens a session. It returns the session
// secret (for the cookie) and the principal with its CSRF token. Unknown
// users cost as much time as known ones.
func (a *Accounts) Login(ctx context.Context, name, password, ip string) (string, Principal, error) {
	var p Principal
	var hash *string
	err := a.pool.QueryRow(ctx, `SELECT id, name, role, scope, demo, password_hash FROM users WHERE name = $1 AND NOT disabled`, name).
		Scan(&p.UserID, &p.User, &p.Role, &p.Scope, &p.Demo, &hash)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && hash == nil) {
		CheckPassword(a.dummy, password)
		return "", Principal{}, ErrBadCredentials
	}
	if err != nil {
		return "", Principal{}, err
	}
	if !CheckPassword(*hash, password) {
		return "", Principal{}, ErrBadCredentials
	}
	secret, h := newSecret(SessionPrefix)
	csrf, _ := newSecret("")
	_, err = a.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, expires, ip) VALUES ($1, $2, $3, $4, $5)`,
		h, p.UserID, csrf, time.Now().Add(SessionTTL), ip)
	if err != nil {
		return "", Principal{}, err
	}
	p.CSRF, p.Via = csrf, "session"
	return secret, p, nil
}

// cachedPrincipal returns the principal cached for a secret's hash.
func (a *Accounts) cachedPrincipal(h []byte) (Principal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[string(h)]
	if !ok || time.Now().After(c.until) {
		return Principal{}, false
	}
	return c.p, true
}

func (a *Accounts) remember(h []byte, p Principal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) > 100_000 {
		clear(a.cache)
	}
	a.cache[string(h)] = cached{p, time.Now().Add(CacheTTL)}
}

// forgetAll drops every cached principal (after a revocation).
func (a *Accounts) forgetAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.cache)
}

// Session returns the principal of a session secret.
func (a *Accounts) Session(ctx context.Context, secret string) (Principal, error) {
	if !looksLike(secret, SessionPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	h := hashSecret(secret)
	if p, ok := a.cachedPrincipal(h); ok {
		return p, nil
	}
	var p Principal
	err := a.pool.QueryRow(ctx, `SELECT u.id, u.name, u.role, u.scope, u.demo, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires > now() AND NOT u.disabled`, h).
		Scan(&p.UserID, &p.User, &p.Role, &p.Scope, &p.Demo, &p.CSRF)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	p.Via = "session"
	a.remember(h, p)
	return p, nil
}

// Logout ends a session.
func (a *Accounts) Logout(ctx context.Context, secret string) error {
	h := hashSecret(secret)
	a.mu.Lock()
	delete(a.cache, string(h))
	a.mu.Unlock()
	_, err := a.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, h)
	return err
}

// TokenInfo describes an API token without its secret.
type TokenInfo struct {
	ID       int64      `json:"id"`
	User     string     `json:"user"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// MaxTokenTTL is the longest an API token may live.
const MaxTokenTTL = 366 * 24 * time.Hour

// CreateToken makes an API token for user; the secret is returned once and
// only its hash is kept.
func (a *Accounts) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, TokenInfo, error) {
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", TokenInfo{}, fmt.Errorf("token lifetime must be between 1s and %s", MaxTokenTTL)
	}
	if name == "" || len(name) > 100 {
		return "", TokenInfo{}, errors.New("a token needs a name of 1-100 characters")
	}
	secret, h := newSecret(TokenPrefix)
	t := TokenInfo{User: user, Name: name}
	err := a.pool.QueryRow(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, expires)
		SELECT id, $2, $3, now() + $4::interval FROM users WHERE name = $1 AND NOT disabled
		RETURNING id, created, expires`, user, name, h, ttl.String()).Scan(&t.ID, &t.Created, &t.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", TokenInfo{}, ErrNoSuchUser
	}
	return secret, t, err
}

// Tokens lists a user's tokens (all users' when user is empty).
func (a *Accounts) Tokens(ctx context.Context, user string) ([]TokenInfo, error) {
	rows, err := a.pool.Query(ctx, `SELECT t.id, u.name, t.name, t.created, t.expires, t.revoked, t.last_used
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE $1 = '' OR u.name = $1 ORDER BY t.id`, user)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TokenInfo, error) {
		var t TokenInfo
		err := r.Scan(&t.ID, &t.User, &t.Name, &t.Created, &t.Expires, &t.Revoked, &t.LastUsed)
		return t, err
	})
}

// RevokeToken revokes token id of user (any user's when user is empty).
func (a *Accounts) RevokeToken(ctx context.Context, user string, id int64) error {
	tag, err := a.pool.Exec(ctx, `UPDATE api_tokens t SET revoked = now() FROM users u
		WHERE t.id = $2 AND u.id = t.user_id AND ($1 = '' OR u.name = $1) AND t.revoked IS NULL`, user, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNoSuchToken
	}
	a.forgetAll()
	return err
}

// Token returns the principal of an API token secret. The token's
// last_used is updated when it is looked up in the database, so at most
// once per CacheTTL.
func (a *Accounts) Token(ctx context.Context, secret string) (Principal, error) {
	if !looksLike(secret, TokenPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	h := hashSecret(secret)
	if p, ok := a.cachedPrincipal(h); ok {
		return p, nil
	}
	var p Principal
	err := a.pool.QueryRow(ctx, `UPDATE api_tokens t SET last_used = now() FROM users u
		WHERE t.token_hash = $1 AND u.id = t.user_id AND t.revoked IS NULL AND t.expires > now() AND NOT u.disabled
		RETURNING u.id, u.name, u.role, u.scope, u.demo`, h).Scan(&p.UserID, &p.User, &p.Role, &p.Scope, &p.Demo)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	p.Via = "token"
	a.remember(h, p)
	return p, nil
}

// NewSetupToken makes the one-time secret of the first-run link, valid for
// ttl, replacing any earlier one.
func (a *Accounts) NewSetupToken(ctx context.Context, ttl time.Duration) (string, error) {
	secret, h := newSecret(SetupPrefix)
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM setup_tokens`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO setup_tokens (token_hash, expires) VALUES ($1, $2)`, h, time.Now().Add(ttl))
		return err
	})
	return secret, err
}

// Setup uses the first-run secret once to create the first admin. It fails
// when any user exists already.
func (a *Accounts) Setup(ctx context.Context, secret, name, password string) (Principal, error) {
	if !looksLike(secret, SetupPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	if err := checkNewUser(name, password); err != nil {
		return Principal{}, err // before the one-time secret is spent
	}
	tag, err := a.pool.Exec(ctx, `DELETE FROM setup_tokens WHERE token_hash = $1 AND expires > now()
		AND NOT EXISTS (SELECT 1 FROM users)`, hashSecret(secret))
	if err != nil {
		return Principal{}, err
	}
	if tag.RowsAffected() != 1 {
		return Principal{}, ErrUnauthenticated
	}
	return a.CreateUser(ctx, NewUser{Name: name, Role: Admin, Password: password})
}

// Lookup returns the account named name (for a caller authenticated
// elsewhere, such as an MQTT broker's password file). A missing or
// disabled account is ErrNoSuchUser.
func (a *Accounts) Lookup(ctx context.Context, name string) (Principal, error) {
	var p Principal
	err := a.pool.QueryRow(ctx, `SELECT id, name, role, scope, demo FROM users WHERE name = $1 AND NOT disabled`, name).
		Scan(&p.UserID, &p.User, &p.Role, &p.Scope, &p.Demo)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrNoSuchUser
	}
	return p, err
}
