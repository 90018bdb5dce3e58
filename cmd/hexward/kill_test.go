package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

// TestKilledServerKeepsAcknowledgedIngest posts readings and positions to
// a real `hexward serve` process from several clients at once and kills
// it (SIGKILL) right after a 2xx: every batch that was answered 2xx is in
// the database afterwards. Acknowledged means committed.
func TestKilledServerKeepsAcknowledgedIngest(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := layers.NewStore(pool, layers.Governance())
	accounts := auth.NewAccounts(pool, nil)
	token := func(name string, role auth.Role) string {
		if _, err := accounts.CreateUser(ctx, auth.NewUser{Name: name, Role: role, Password: name + "-password-long"}); err != nil {
			t.Fatal(err)
		}
		secret, _, err := accounts.CreateToken(ctx, name, "kill test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	devToken, phoneToken := token("kill-dev", auth.Device), token("kill-phone", auth.Officer)
	if _, err := accounts.CreateUser(ctx, auth.NewUser{Name: "kill-admin", Role: auth.Admin, Password: "kill-admin-password"}); err != nil {
		t.Fatal(err) // so serve's first run prints no setup link
	}
	sensor, err := store.Create(ctx, layers.Feature{Layer: "sensors", Geometry: orb.Point{114.12, 22.55},
		Props: map[string]any{"name": "电表", "kind": "electricity", "unit": "A", "device": "kill-dev"}})
	if err != nil {
		t.Fatal(err)
	}
	officer, err := store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55},
		Props: map[string]any{"name": "巡查员", "device": "kill-phone", "duty": "patrol"}})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"serve", "--database-url", url, "--addr", addr,
		"--warm=false", "--offline-check=0", "--ingest-rate=100000"}, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server not healthy within 60 s")
		}
	}

	// Each client posts batches with its own timestamps; a batch is one
	// transaction, so it is either all there or not at all.
	const perBatch = 50
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	var mu sync.Mutex
	ackedReadings, ackedPositions := map[int]bool{}, map[int]bool{}
	acks := make(chan struct{}, 1000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	post := func(path, token, body string) bool {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode/100 == 2
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := w; ; b += 4 {
				select {
				case <-stop:
					return
				default:
				}
				var body bytes.Buffer
				readings := w%2 == 0
				if readings {
					body.WriteString(`{"readings":[`)
				} else {
					body.WriteString(`{"positions":[`)
				}
				for i := range perBatch {
					if i > 0 {
						body.WriteByte(',')
					}
					ts := t0.Add(time.Duration(b*perBatch+i) * time.Millisecond * 10).Format(time.RFC3339Nano)
					if readings {
						fmt.Fprintf(&body, `{"sensor":%d,"ts":%q,"value":%d}`, sensor.ID, ts, i%7)
					} else {
						fmt.Fprintf(&body, `{"ts":%q,"lon":%f,"lat":22.55}`, ts, 114.12+float64(i)*1e-5)
					}
				}
				body.WriteString(`]}`)
				var ok bool
				if readings {
					ok = post("/ingest/readings", devToken, body.String())
				} else {
					ok = post("/ingest/positions", phoneToken, body.String())
				}
				if !ok {
					return // the server is gone
				}
				mu.Lock()
				if readings {
					ackedReadings[b] = true
				} else {
					ackedPositions[b] = true
				}
				mu.Unlock()
				select {
				case acks <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 40 { // let some batches through, then kill right after an acknowledgement
		<-acks
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	close(stop)
	wg.Wait()

	count := func(q string, args ...any) int {
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	batchOf := func(ts time.Time) int { return int(ts.Sub(t0)/(10*time.Millisecond)) / perBatch }
	stored := func(q string, id int64) map[int]int {
		rows, err := pool.Query(ctx, q, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[int]int{}
		for rows.Next() {
			var ts time.Time
			if err := rows.Scan(&ts); err != nil {
				t.Fatal(err)
			}
			m[batchOf(ts)]++
		}
		return m
	}
	gotReadings := stored(`SELECT ts FROM readings WHERE sensor_id = $1`, sensor.ID)
	gotPositions := stored(`SELECT ts FROM positions WHERE officer_id = $1`, officer.ID)
	for b := range ackedReadings {
		if gotReadings[b] != perBatch {
			t.Errorf("readings batch %d was acknowledged but %d of %d readings are stored", b, gotReadings[b], perBatch)
		}
	}
	for b := range ackedPositions {
		if gotPositions[b] != perBatch {
			t.Errorf("positions batch %d was acknowledged but %d of %d positions are stored", b, gotPositions[b], perBatch)
		}
	}
	for b, n := range gotReadings {
		if n != perBatch {
			t.Errorf("readings batch %d is half stored: %d of %d", b, n, perBatch)
		}
	}
	for b, n := range gotPositions {
		if n != perBatch {
			t.Errorf("positions batch %d is half stored: %d of %d", b, n, perBatch)
		}
	}
	if len(ackedReadings) == 0 || len(ackedPositions) == 0 {
		t.Fatalf("acknowledged batches: %d of readings, %d of positions", len(ackedReadings), len(ackedPositions))
	}
	t.Logf("killed after %d readings and %d positions batches were acknowledged; %d readings, %d positions stored",
		len(ackedReadings), len(ackedPositions),
		count(`SELECT count(*) FROM readings`), count(`SELECT count(*) FROM positions`))
}
