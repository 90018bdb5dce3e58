package auth

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hexward/hexward/layers"
)

// Outcomes of an audited action.
const (
	OK     = "ok"
	Denied = "denied"
	Failed = "failed"
)

// Entry is one row of the audit log.
type Entry struct {
	Seq     int64           `json:"seq"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Role    string          `json:"role"`
	IP      string          `json:"ip"`
	Action  string          `json:"action"`
	Target  string          `json:"target"`
	Outcome string          `json:"outcome"`
	Detail  string          `json:"detail"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
}

// Audit is the append-only audit log (the table refuses updates and
// deletes).
type Audit struct{ pool *pgxpool.Pool }

// NewAudit returns the audit log in pool's database.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

const insertEntry = `INSERT INTO audit_log (actor, role, ip, action, target, outcome, detail, before, after)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// Append records an entry on its own.
func (a *Audit) Append(ctx context.Context, e Entry) error {
	_, err := a.pool.Exec(ctx, insertEntry, e.Actor, e.Role, e.IP, e.Action, e.Target, e.Outcome, e.Detail, nullJSON(e.Before), nullJSON(e.After))
	return err
}

// FeatureWrite is the store's audit hook (layers.AuditFunc): it records a
// feature write, with the feature before and after, in the write's own
// transaction, so that no write is committed without its audit row.
func (a *Audit) FeatureWrite(ctx context.Context, tx pgx.Tx, op layers.Op, layer string, id int64, before, after json.RawMessage) error {
	act, _ := layers.ActorFrom(ctx)
	target := layer
	if id != 0 {
		target = layer + "/" + itoa(id)
	}
	_, err := tx.Exec(ctx, insertEntry, act.User, act.Role, act.IP, "feature."+string(op), target, OK, "", nullJSON(before), nullJSON(after))
	return err
}

// Query selects audit entries after seq (0 for the first), oldest first.
type Query struct {
	After   int64
	Limit   int
	Actor   string // empty for all
	Outcome string // empty for all
}

// Entries returns entries matching q.
func (a *Audit) Entries(ctx context.Context, q Query) ([]Entry, error) {
	rows, err := a.pool.Query(ctx, `SELECT seq, at, actor, role, ip, action, target, outcome, detail, before, after FROM audit_log
		WHERE seq > $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR outcome = $3) ORDER BY seq LIMIT $4`,
		q.After, q.Actor, q.Outcome, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := r.Scan(&e.Seq, &e.At, &e.Actor, &e.Role, &e.IP, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.Before, &e.After)
		return e, err
	})
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
