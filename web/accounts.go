package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hexward/hexward/auth"
)

// Sign-in, sessions, API tokens, users and the audit log.

func isUnauth(err error) bool {
	return errors.Is(err, auth.ErrUnauthenticated) || errors.Is(err, auth.ErrBadCredentials)
}

// limiter allows a number of failed attempts per key (a client IP) per
// period, as a token bucket forgotten after a while so that the map stays
// small.
type limiter struct {
	mu      sync.Mutex
	per     rate.Limit
	burst   int
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{per: rate.Every(per / time.Duration(n)), burst: n, buckets: map[string]*bucket{}}
}

func (l *limiter) bucket(key string, now time.Time) *rate.Limiter {
	if len(l.buckets) > 10000 {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.per, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim
}

// check says whether key may try now, or how long it must wait. It takes
// nothing: only failures (fail) use up attempts.
func (l *limiter) check(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	lim := l.bucket(key, now)
	if tokens := lim.TokensAt(now); tokens < 1 {
		return false, time.Duration((1 - tokens) / float64(l.per) * float64(time.Second))
	}
	return true, 0
}

// take uses up one request of key, or says how long to wait for one.
func (l *limiter) take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	res := l.bucket(key, now).ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// fail uses up one attempt of key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.bucket(key, now).AllowN(now, 1)
}

func tooMany(w http.ResponseWriter, wait time.Duration) error {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	return &httpError{http.StatusTooManyRequests, fmt.Sprintf("too many requests; try again in %d s", int(wait.Seconds())+1)}
}

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (s *Server) loginHandler(w http.ResponseWriter, r *http.Request) error {
	ip := clientIP(r)
	if ok, wait := s.login.check(ip); !ok {
		return tooMany(w, wait)
	}
	var in struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	secret, p, err := s.accounts.Login(r.Context(), in.User, in.Password, ip)
	if errors.Is(err, auth.ErrBadCredentials) {
		s.login.fail(ip)
		s.auditAppend(r.Context(), auth.Entry{Actor: in.User, IP: ip, Action: "login", Outcome: auth.Denied, Detail: err.Error()})
		return &httpError{http.StatusUnauthorized, err.Error()}
	}
	if err != nil {
		return err
	}
	s.auditAppend(r.Context(), auth.Entry{Actor: p.User, Role: string(p.Role), IP: ip, Action: "login", Outcome: auth.OK})
	s.setSession(w, r, secret, int(auth.SessionTTL.Seconds()))
	writeJSON(w, http.StatusOK, jsonType, p)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.accounts.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.setSession(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, jsonType, principal(r))
	return nil
}

// setup creates the first admin with the one-time first-run secret.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := s.login.check(clientIP(r)); !ok {
		return tooMany(w, wait)
	}
	var in struct{ Token, User, Password string }
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p, err := s.accounts.Setup(r.Context(), in.Token, in.User, in.Password)
	if isUnauth(err) {
		s.login.fail(clientIP(r))
		s.auditAppend(r.Context(), auth.Entry{Actor: in.User, IP: clientIP(r), Action: "setup", Outcome: auth.Denied})
		return &httpError{http.StatusForbidden, "the first-run link is used, expired or wrong"}
	}
	if err != nil {
		return badRequest("%v", err)
	}
	s.auditAppend(r.Context(), auth.Entry{Actor: p.User, Role: string(p.Role), IP: clientIP(r), Action: "setup", Target: "users/" + p.User, Outcome: auth.OK})
	writeJSON(w, http.StatusCreated, jsonType, p)
	return nil
}

var setupTmpl = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>Hexward · 首次设置 First run</title>
<style>body{font:16px system-ui,sans-serif;background:#0b1726;color:#eee;display:grid;place-items:center;height:100vh;margin:0}
form{background:#fff;color:#222;padding:2em;border-radius:8px;width:22em}input,button{width:100%;padding:.5em;margin:.3em 0 1em;box-sizing:border-box}
#msg{min-height:1.5em}</style></head><body>
<form id="f"><h2>创建管理员 · Create the first admin</h2>
<label>用户名 User name<input name="user" required pattern="[a-z0-9][a-z0-9_.@-]{0,63}"></label>
<label>密码 Password (≥ 10)<input name="password" type="password" minlength="10" required></label>
<button>创建 Create</button><div id="msg"></div></form>
<script nonce="{{.}}">
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault();
  const f = new FormData(e.target), msg = document.getElementById('msg');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const res = await fetch('/auth/setup', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({token, user: f.get('user'), password: f.get('password')})});
  const body = await res.json().catch(() => ({}));
  msg.textContent = res.ok ? '已创建，请登录 · Created: sign in at /' : (body.detail || res.statusText);
  if (res.ok) setTimeout(() => { location.href = '/'; }, 1500);
};
</script></body></html>`))

// setupPage is the first-run form; the secret stays in the URL fragment,
// so it never reaches a server log.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := newNonce()
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-"+nonce+"'; style-src 'unsafe-inline'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return setupTmpl.Execute(w, nonce)
}

type tokenRequest struct {
	Name     string  `json:"name"`
	TTLHours float64 `json:"ttl_hours"` // default 90 days
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, user string) error {
	var in tokenRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	ttl := 90 * 24 * time.Hour
	if in.TTLHours != 0 {
		ttl = time.Duration(in.TTLHours * float64(time.Hour))
	}
	secret, info, err := s.accounts.CreateToken(r.Context(), user, in.Name, ttl)
	if errors.Is(err, auth.ErrNoSuchUser) {
		return notFound("no user %q", user)
	}
	if err != nil {
		return badRequest("%v", err)
	}
	p := principal(r)
	s.auditAppend(r.Context(), auth.Entry{Actor: p.User, Role: string(p.Role), IP: clientIP(r), Action: "token.create",
		Target: fmt.Sprintf("users/%s/tokens/%d", user, info.ID), Outcome: auth.OK, Detail: info.Name})
	writeJSON(w, http.StatusCreated, jsonType, map[string]any{"token": secret, "info": info,
		"note": "the token is shown once; keep it secret"})
	return nil
}

func (s *Server) ownTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.accounts.Tokens(r.Context(), principal(r).User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"tokens": ts})
	return nil
}

func (s *Server) createOwnToken(w http.ResponseWriter, r *http.Request) error {
	return s.issueToken(w, r, principal(r).User)
}

func (s *Server) revokeOwnToken(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return notFound("no token %q", r.PathValue("id"))
	}
	p := principal(r)
	owner := p.User
	if p.Role.Can(auth.ManageAccounts) {
		owner = "" // an admin may revoke anyone's token
	}
	if err := s.accounts.RevokeToken(r.Context(), owner, id); err != nil {
		if errors.Is(err, auth.ErrNoSuchToken) {
			return notFound("no token %d of yours", id)
		}
		return err
	}
	s.auditAppend(r.Context(), auth.Entry{Actor: p.User, Role: string(p.Role), IP: clientIP(r), Action: "token.revoke",
		Target: fmt.Sprintf("tokens/%d", id), Outcome: auth.OK})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) users(w http.ResponseWriter, r *http.Request) error {
	us, err := s.accounts.Users(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"users": us})
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in struct{ User, Role, Scope, Password string }
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	role, err := auth.ParseRole(in.Role)
	if err != nil {
		return badRequest("%v", err)
	}
	u, err := s.accounts.CreateUser(r.Context(), auth.NewUser{Name: in.User, Role: role, Scope: in.Scope, Password: in.Password})
	if errors.Is(err, auth.ErrUserExists) {
		return &httpError{http.StatusConflict, err.Error()}
	}
	if err != nil {
		return badRequest("%v", err)
	}
	p := principal(r)
	s.auditAppend(r.Context(), auth.Entry{Actor: p.User, Role: string(p.Role), IP: clientIP(r), Action: "user.create",
		Target: "users/" + u.User, Outcome: auth.OK, Detail: string(u.Role) + " " + u.Scope})
	writeJSON(w, http.StatusCreated, jsonType, u)
	return nil
}

func (s *Server) createUserToken(w http.ResponseWriter, r *http.Request) error {
	return s.issueToken(w, r, r.PathValue("name"))
}

// auditLog serves the audit log as JSON, or CSV with f=csv.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := auth.Query{Limit: 1000, Actor: v.Get("actor"), Outcome: v.Get("outcome")}
	if a := v.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			return badRequest("after must be an audit sequence number, got %q", a)
		}
		q.After = n
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return badRequest("limit must be a positive integer, got %q", l)
		}
		q.Limit = min(n, 10000)
	}
	es, err := s.audit.Entries(r.Context(), q)
	if err != nil {
		return err
	}
	if v.Get("f") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="hexward-audit.csv"`)
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"seq", "at", "actor", "role", "ip", "action", "target", "outcome", "detail", "before", "after"})
		for _, e := range es {
			_ = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), e.Actor, e.Role, e.IP,
				e.Action, e.Target, e.Outcome, e.Detail, string(e.Before), string(e.After)})
		}
		cw.Flush()
		return cw.Error()
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"entries": es})
	return nil
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	return base64.StdEncoding.EncodeToString(b), err
}
