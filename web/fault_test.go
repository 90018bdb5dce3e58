package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgcluster"
	"github.com/hexward/hexward/migrations"
	"github.com/hexward/hexward/tiles"
	"github.com/hexward/hexward/web"
)

// TestDatabaseRestartLosesNoAcknowledgedWrite stops PostgreSQL in the
// middle of a stream of writes and starts it again: meanwhile the service
// answers 503, afterwards it reconnects by itself, and every write it
// acknowledged with a 2xx is in the database.
func TestDatabaseRestartLosesNoAcknowledgedWrite(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hexward-fault-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	cluster, err := pgcluster.Start(ctx, dir+"/pg")
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	cfg, _ := pgxpool.ParseConfig(cluster.URL("postgres"))
	cfg.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	cat := layers.Governance()
	store := layers.NewStore(pool, cat)
	eng := tiles.NewEngine(cat, store, tiles.Options{})
	accounts := auth.NewAccounts(pool, nil)
	if _, err := accounts.CreateUser(ctx, auth.NewUser{Name: "planner", Role: auth.Planner}); err != nil {
		t.Fatal(err)
	}
	token, _, err := accounts.CreateToken(ctx, "planner", "fault", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Config{Store: store, Tiles: eng, Accounts: accounts, Audit: auth.NewAudit(pool)}))
	defer srv.Close()

	var acked []int64
	statuses := map[int]int{}
	post := func(i int) {
		body := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.12,%f]},"properties":{"name":"g%d"}}`, 22.5+float64(i)*1e-5, i)
		req, _ := http.NewRequest("POST", srv.URL+"/api/collections/gates/items", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusCreated {
			var f struct{ ID int64 }
			_ = json.NewDecoder(resp.Body).Decode(&f)
			acked = append(acked, f.ID)
		} else if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	i := 0
	for ; len(acked) < 30; i++ {
		post(i)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- cluster.Stop() }()
	deadline := time.Now().Add(3 * time.Second)
	for ; time.Now().Before(deadline); i++ {
		post(i)
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	post(i) // surely down now
	i++
	if err := cluster.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	for n := len(acked) + 30; len(acked) < n && i < 10000; i++ {
		post(i)
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("no 503 while the database was down: %v", statuses)
	}
	for s := range statuses {
		if s != http.StatusCreated && s != http.StatusServiceUnavailable {
			t.Errorf("status %d during the outage: %v", s, statuses)
		}
	}
	var present int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM features WHERE layer = 'gates' AND id = ANY($1)`, acked).Scan(&present); err != nil {
		t.Fatal(err)
	}
	if present != len(acked) {
		t.Fatalf("%d of %d acknowledged writes present after the restart", present, len(acked))
	}
	t.Logf("statuses %v, %d acknowledged writes all present", statuses, len(acked))
}

// TestGarbageClient: a client that sends bytes that are not HTTP, or an
// endless header, gets an error and the service carries on.
func TestGarbageClient(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.url, "http://")
	for _, garbage := range []string{
		"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
		"GET /api HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
	} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte(garbage))
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		conn.Close()
		if n > 0 && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 4") {
			t.Errorf("garbage %.20q answered %q", garbage, buf[:n])
		}
	}
	if status, _, _ := e.as(t, "viewer", "GET", "/api/collections", ""); status != 200 {
		t.Fatalf("service after garbage: %d", status)
	}
}

// TestHealthzReportsDegradedParts: a broker that is down degrades the
// service but does not stop it; /healthz says which part and why.
func TestHealthzReportsDegradedParts(t *testing.T) {
	down := errors.New("nats: no servers available for connection")
	var natsErr error
	e := newEnvWith(t, func(c *web.Config) {
		c.Checks = map[string]func() error{"nats": func() error { return natsErr }, "mqtt": func() error { return nil }}
	})
	check := func(want string) {
		t.Helper()
		code, _, body := e.do(t, "GET", "/healthz", "")
		var got struct {
			Status string
			Checks map[string]string
		}
		if err := json.Unmarshal(body, &got); err != nil || code != 200 || got.Status != want || got.Checks["mqtt"] != "ok" {
			t.Fatalf("healthz %d %s", code, body)
		}
		if want == "degraded" && got.Checks["nats"] != down.Error() {
			t.Fatalf("healthz does not say why: %s", body)
		}
	}
	check("ok")
	natsErr = down
	check("degraded")
}
