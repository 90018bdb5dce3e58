package main

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/hexward/hexward/auth"
)

// hexward simulate drives a running server with the demo district's live
// half: sensors report plausible readings (with fault episodes that raise
// alerts and later clear) and officers walk the street network reporting
// their positions, over HTTP, MQTT and OsmAnd, at a configurable rate, and
// now and then an incident where they are (POST /api/incidents).

// simConfig is one run of the simulator.
type simConfig struct {
	URL, User, Password string
	ReadingsRate        float64 // readings per second, all sensors together
	PositionsRate       float64 // positions per second, all walking officers together
	Officers            int     // officers walking; negative: all
	FaultRate           float64 // probability per sensor-minute that a fault episode starts
	IncidentRate        float64 // incident reports per hour per walking officer
	Transport           string  // readings: http, mqtt or both
	PositionsVia        string  // positions: osmand, json or mqtt
	MQTTURL             string
	Duration            time.Duration // 0: until ctx ends
	Seed                int64
	StatsEvery          time.Duration
	Batch               int           // readings per request at most
	Grace               time.Duration // how long requests in flight may finish after the run; 0: 5 s
	Out                 io.Writer     // stats lines; nil: stdout
}

// simReport is what a run did.
type simReport struct {
	ReadingsSent, ReadingsAccepted, ReadingsDuplicates, ReadingsErrors     int64
	PositionsSent, PositionsAccepted, PositionsDuplicates, PositionsErrors int64
	Throttled                                                              int64 // 429 answers
	FaultEpisodes                                                          int64
	IncidentsReported, IncidentsErrors                                     int64
	AlertsRaised                                                           int // alerts in state raised at the end (-1: unknown)
	Sensors, Officers                                                      int
}

func simulate(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	var c simConfig
	fs.StringVar(&c.URL, "url", envOr("HEXWARD_URL", "http://127.0.0.1:8080"), "server base URL (env HEXWARD_URL)")
	fs.StringVar(&c.User, "user", envOr("HEXWARD_SIM_USER", "demo-admin"), "an admin account: creates the phone accounts and the tokens (env HEXWARD_SIM_USER)")
	fs.StringVar(&c.Password, "password", envOr("HEXWARD_SIM_PASSWORD", "demo-admin"+DemoPasswordSuffix), "its password (env HEXWARD_SIM_PASSWORD)")
	fs.Float64Var(&c.ReadingsRate, "readings-rate", 50, "sensor readings per second, all sensors together")
	fs.Float64Var(&c.PositionsRate, "positions-rate", 10, "officer positions per second, all walking officers together")
	fs.IntVar(&c.Officers, "officers", -1, "how many officers walk (-1: all)")
	fs.Float64Var(&c.FaultRate, "fault-rate", 0.001, "probability per sensor-minute of a fault episode: the value crosses the alarm threshold long enough to raise an alert, then returns to normal")
	fs.Float64Var(&c.IncidentRate, "incident-rate", 0.5, "incident reports per hour per walking officer, at the officer's position, of the catalogue's kinds (0: none)")
	fs.StringVar(&c.Transport, "transport", "http", "readings transport: http, mqtt or both (alternate batches)")
	fs.StringVar(&c.PositionsVia, "positions-via", "osmand", "positions transport: osmand (one fix per GET), json (POST /ingest/positions) or mqtt")
	fs.StringVar(&c.MQTTURL, "mqtt-url", os.Getenv("MQTT_URL"), "MQTT broker, e.g. tcp://127.0.0.1:1883; user:password@ in the URL signs in (env MQTT_URL)")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to run (0: until interrupted)")
	fs.Int64Var(&c.Seed, "seed", 1, "seed: the same seed gives the same values, faults and walks")
	fs.DurationVar(&c.StatsEvery, "stats-every", 5*time.Second, "how often to print a line of statistics")
	fs.IntVar(&c.Batch, "batch", 100, "readings per request at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate: unexpected argument %q", fs.Arg(0))
	}
	_, err := runSimulation(ctx, log, c)
	return err
}

func (c *simConfig) check() error {
	switch {
	case c.ReadingsRate < 0 || math.IsNaN(c.ReadingsRate) || math.IsInf(c.ReadingsRate, 0):
		return fmt.Errorf("--readings-rate %v: want 0 or more readings per second", c.ReadingsRate)
	case c.PositionsRate < 0 || math.IsNaN(c.PositionsRate) || math.IsInf(c.PositionsRate, 0):
		return fmt.Errorf("--positions-rate %v: want 0 or more positions per second", c.PositionsRate)
	case c.ReadingsRate == 0 && c.PositionsRate == 0:
		return errors.New("--readings-rate and --positions-rate are both 0: nothing to simulate")
	case !(c.FaultRate >= 0 && c.FaultRate <= 1):
		return fmt.Errorf("--fault-rate %v: want a probability from 0 to 1", c.FaultRate)
	case c.IncidentRate < 0 || math.IsNaN(c.IncidentRate) || math.IsInf(c.IncidentRate, 0):
		return fmt.Errorf("--incident-rate %v: want 0 or more reports per hour per officer", c.IncidentRate)
	case c.Transport != "http" && c.Transport != "mqtt" && c.Transport != "both":
		return fmt.Errorf("--transport %q: want http, mqtt or both", c.Transport)
	case c.PositionsVia != "osmand" && c.PositionsVia != "json" && c.PositionsVia != "mqtt":
		return fmt.Errorf("--positions-via %q: want osmand, json or mqtt", c.PositionsVia)
	case (c.Transport != "http" || c.PositionsVia == "mqtt") && c.MQTTURL == "":
		return errors.New("MQTT needs a broker: set --mqtt-url or env MQTT_URL")
	case c.Duration < 0:
		return fmt.Errorf("--duration %s: want 0 (until interrupted) or more", c.Duration)
	case c.User == "":
		return errors.New("--user: an admin account is needed")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want the server's base URL, like http://127.0.0.1:8080", c.URL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.Batch < 1 {
		c.Batch = 100
	}
	if c.StatsEvery <= 0 {
		c.StatsEvery = 5 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 5 * time.Second
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	return nil
}

// ---- the server's HTTP API ----

// simClient calls the server: as the admin (session cookie and CSRF
// token) or with a device's API token.
type simClient struct {
	base  string
	http  *http.Client
	csrf  string
	pause atomic.Int64 // Unix ns before which no request is made (after a 429)
	thr   *atomic.Int64
}

// apiError is an answer other than the one expected.
type apiError struct {
	status int
	method string
	path   string
	body   string
	retry  time.Duration // Retry-After of a 429
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// do makes one request and decodes a JSON answer into out (when not nil).
// token empty: the admin's session. A 429 waits for Retry-After and tries
// again until ctx ends.
func (c *simClient) do(ctx context.Context, method, path, token string, body any, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for {
		if err := c.wait(ctx); err != nil {
			return err
		}
		u := path
		if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
			u = c.base + path
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		} else if c.csrf != "" && method != http.MethodGet {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			c.thr.Add(1)
			c.backOff(wait)
			continue
		}
		if resp.StatusCode/100 != 2 {
			var p struct{ Detail, Title string }
			msg := string(data)
			if json.Unmarshal(data, &p) == nil && p.Detail != "" {
				msg = p.Detail
			}
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			return &apiError{status: resp.StatusCode, method: method, path: req.URL.Path, body: msg}
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL.Path, err)
			}
		}
		return nil
	}
}

// backOff makes every request wait d from now.
func (c *simClient) backOff(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.pause.Load()
		if cur >= until || c.pause.CompareAndSwap(cur, until) {
			return
		}
	}
}

func (c *simClient) wait(ctx context.Context) error {
	d := time.Until(time.Unix(0, c.pause.Load()))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == status
}

// simFeature is a feature as the OGC API answers it.
type simFeature struct {
	ID         int64             `json:"id"`
	Geometry   *geojson.Geometry `json:"geometry"`
	Properties map[string]any    `json:"properties"`
}

// features reads a whole layer, following the next links.
func (c *simClient) features(ctx context.Context, layer string) ([]simFeature, error) {
	var all []simFeature
	next := "/api/collections/" + url.PathEscape(layer) + "/items?limit=10000"
	for next != "" {
		var page struct {
			Features []simFeature `json:"features"`
			Links    []struct{ Href, Rel string }
		}
		if err := c.do(ctx, http.MethodGet, next, "", nil, &page); err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", layer, err)
		}
		all = append(all, page.Features...)
		next = ""
		for _, l := range page.Links {
			if l.Rel == "next" && len(page.Features) > 0 {
				next = l.Href
			}
		}
	}
	return all, nil
}

// incidentKinds reads the kinds an incident report may have: the enum of
// the incidents layer's kind, as the server's catalogue has it.
func (c *simClient) incidentKinds(ctx context.Context) ([]string, error) {
	var q struct {
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/collections/incidents/queryables", "", nil, &q); err != nil {
		return nil, fmt.Errorf("reading the kinds of incident reports (--incident-rate 0 reports none): %w", err)
	}
	kinds := q.Properties["kind"].Enum
	if len(kinds) == 0 {
		return nil, errors.New("the server's incidents layer lists no kinds (--incident-rate 0 reports none)")
	}
	return kinds, nil
}

// raisedAlerts counts the alerts in state raised.
func (c *simClient) raisedAlerts(ctx context.Context) (int, error) {
	var page struct {
		N int `json:"numberReturned"`
	}
	err := c.do(ctx, http.MethodGet, "/api/collections/alerts/items?state=raised&limit=10000", "", nil, &page)
	return page.N, err
}

// ---- the run ----

// simToken is an API token the run created, revoked at its end.
type simToken struct {
	user, secret string
	id           int64
}

func runSimulation(ctx context.Context, log *slog.Logger, cfg simConfig) (simReport, error) {
	rep := simReport{AlertsRaised: -1}
	if err := cfg.check(); err != nil {
		return rep, err
	}
	jar, _ := cookiejar.New(nil)
	var throttled atomic.Int64
	cl := &simClient{base: cfg.URL, http: &http.Client{Jar: jar, Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}, thr: &throttled}

	// Sign in as the admin.
	var me auth.Principal
	if err := cl.do(ctx, http.MethodPost, "/auth/login", "", map[string]string{"user": cfg.User, "password": cfg.Password}, &me); err != nil {
		return rep, fmt.Errorf("signing in as %s: %w", cfg.User, err)
	}
	cl.csrf = me.CSRF
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = cl.do(lctx, http.MethodPost, "/auth/logout", "", nil, nil)
	}()
	if !me.Role.Can(auth.ManageAccounts) {
		return rep, fmt.Errorf("%s is a %s: the simulator needs an admin to create the device accounts and tokens", cfg.User, me.Role)
	}

	// What there is to simulate.
	sensorsF, err := cl.features(ctx, "sensors")
	if err != nil {
		return rep, err
	}
	officersF, err := cl.features(ctx, "officers")
	if err != nil {
		return rep, err
	}
	streetsF, err := cl.features(ctx, "streets")
	if err != nil {
		return rep, err
	}
	var lines []orb.LineString
	for _, f := range streetsF {
		if f.Geometry == nil {
			continue
		}
		switch g := f.Geometry.Geometry().(type) {
		case orb.LineString:
			lines = append(lines, g)
		case orb.MultiLineString:
			lines = append(lines, g...)
		}
	}
	graph := newStreetGraph(lines, 3)

	interval := 0.0 // seconds between a sensor's normal readings
	var sensors []*simSensor
	if cfg.ReadingsRate > 0 {
		for _, f := range sensorsF {
			if s := newSimSensor(f, cfg.Seed, cfg.FaultRate); s != nil {
				sensors = append(sensors, s)
			}
		}
		if len(sensors) > 0 {
			interval = float64(len(sensors)) / cfg.ReadingsRate
		}
	}
	var officers []simFeature
	if cfg.PositionsRate > 0 && graph.edges() > 0 {
		slices.SortFunc(officersF, func(a, b simFeature) int { return int(a.ID - b.ID) })
		for _, f := range officersF {
			if d, _ := f.Properties["device"].(string); d != "" && f.Geometry != nil {
				if _, ok := f.Geometry.Geometry().(orb.Point); ok {
					officers = append(officers, f)
				}
			}
		}
		if cfg.Officers >= 0 && cfg.Officers < len(officers) {
			officers = officers[:cfg.Officers]
		}
	}
	rep.Sensors, rep.Officers = len(sensors), len(officers)
	if len(sensors) == 0 && len(officers) == 0 {
		return rep, fmt.Errorf("nothing to simulate at %s: %d sensors with a device, %d officers with a device, %d streets (is it serving the demo district? hexward serve --demo)",
			cfg.URL, len(sensors), len(officersF), len(streetsF))
	}

	var kinds []string // of incident reports, read before any account is made
	if cfg.IncidentRate > 0 && len(officers) > 0 {
		if kinds, err = cl.incidentKinds(ctx); err != nil {
			return rep, err
		}
	}

	// Accounts and tokens: the sensors' devices and the walking officers' phones.
	ttl := 7 * 24 * time.Hour
	if cfg.Duration > 0 {
		ttl = cfg.Duration + time.Hour
	}
	tokens := map[string]*simToken{}
	defer func() { // revoke this run's tokens
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, t := range tokens {
			_ = cl.do(rctx, http.MethodDelete, "/auth/tokens/"+strconv.FormatInt(t.id, 10), "", nil, nil)
		}
	}()
	var users struct{ Users []auth.Principal }
	if err := cl.do(ctx, http.MethodGet, "/auth/users", "", nil, &users); err != nil {
		return rep, fmt.Errorf("listing the accounts: %w", err)
	}
	roles := map[string]auth.Role{}
	for _, u := range users.Users {
		roles[u.User] = u.Role
	}
	need := func(account string, role auth.Role, perm auth.Permission) error {
		if _, ok := tokens[account]; ok {
			return nil
		}
		if r, ok := roles[account]; ok {
			if !r.Can(perm) {
				return fmt.Errorf("account %s exists as a %s, which may not %s", account, r, strings.ReplaceAll(string(perm), "_", " "))
			}
		} else {
			err := cl.do(ctx, http.MethodPost, "/auth/users", "", map[string]string{"user": account, "role": string(role)}, nil)
			if err != nil && !isStatus(err, http.StatusConflict) {
				return fmt.Errorf("creating account %s: %w", account, err)
			}
			if err == nil {
				log.Info("account created", "user", account, "role", role)
			}
			roles[account] = role
		}
		var out struct {
			Token string
			Info  struct{ ID int64 }
		}
		body := map[string]any{"name": "hexward simulate " + time.Now().UTC().Format(time.RFC3339), "ttl_hours": ttl.Hours()}
		if err := cl.do(ctx, http.MethodPost, "/auth/users/"+url.PathEscape(account)+"/tokens", "", body, &out); err != nil {
			return fmt.Errorf("creating a token for %s: %w", account, err)
		}
		tokens[account] = &simToken{user: account, secret: out.Token, id: out.Info.ID}
		return nil
	}
	for _, s := range sensors {
		if err := need(s.device, auth.Device, auth.SendReadings); err != nil {
			return rep, err
		}
	}
	for _, o := range officers {
		if err := need(o.Properties["device"].(string), auth.Officer, auth.SendPositions); err != nil {
			return rep, err
		}
	}
	// Incident reports: a phone's account reports when its role may (an
	// officer's, as the simulator creates them); a phone whose account is
	// a device's may not, and reports by the officer account
	// <phone>-officer instead.
	reporters := map[string]string{} // phone's account -> reporting account
	if len(kinds) > 0 {
		for _, o := range officers {
			phone := o.Properties["device"].(string)
			reporters[phone] = phone
			if !roles[phone].Can(auth.ReportIncidents) {
				reporters[phone] = phone + "-officer"
				if err := need(reporters[phone], auth.Officer, auth.ReportIncidents); err != nil {
					return rep, err
				}
			}
		}
	}

	var mq mqtt.Client
	if cfg.Transport != "http" || cfg.PositionsVia == "mqtt" {
		if mq, err = connectMQTT(cfg.MQTTURL, cfg.Seed); err != nil {
			return rep, err
		}
		defer mq.Disconnect(250)
	}
	if raised, err := cl.raisedAlerts(ctx); err == nil {
		rep.AlertsRaised = raised
	}
	minOffline := math.Inf(1)
	for _, s := range sensors {
		minOffline = min(minOffline, s.offlineAfter)
	}
	fmt.Fprintf(cfg.Out, "# hexward simulate %s: %d sensors (%.0f readings/s over %s, one every %.1f s each, fault rate %g per sensor-minute), %d officers walking %d street nodes (%.1f positions/s via %s, %g incident reports per officer-hour), seed %d\n",
		cfg.URL, len(sensors), cfg.ReadingsRate, cfg.Transport, interval, cfg.FaultRate, len(officers), len(graph.pts), cfg.PositionsRate, cfg.PositionsVia, cfg.IncidentRate, cfg.Seed)
	if interval > minOffline {
		log.Warn("sensors report less often than their offline_after_s: they will be seen offline; raise --readings-rate", "every_s", interval, "offline_after_s", minOffline)
	}

	// Run.
	runCtx, stop := context.WithCancel(ctx)
	if cfg.Duration > 0 {
		runCtx, stop = context.WithTimeout(ctx, cfg.Duration)
	}
	defer stop()
	// Requests in flight get a few seconds after the run ends.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	st := &simStats{throttled: &throttled}
	r := &simRun{cfg: cfg, log: log, cl: cl, mq: mq, tokens: tokens, st: st, sendCtx: sendCtx}
	start := time.Now()
	var wg sync.WaitGroup
	if len(sensors) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); r.sensorLoop(runCtx, sensors, interval) }()
	}
	for i, o := range officers {
		every := time.Duration(float64(len(officers)) / cfg.PositionsRate * float64(time.Second))
		w := newWalker(graph, o.Geometry.Geometry().(orb.Point), rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(o.ID)<<1|1)))
		phone := o.Properties["device"].(string)
		var inc *incidentPlan
		if len(kinds) > 0 {
			inc = newIncidentPlan(cfg.IncidentRate, kinds, tokens[reporters[phone]].secret, rand.New(rand.NewPCG(uint64(cfg.Seed)^incidentStream, uint64(o.ID))))
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.officerLoop(runCtx, i, phone, w, every, inc) }()
	}
	go func() { // requests in flight get a few seconds after the run ends
		<-runCtx.Done()
		select {
		case <-time.After(cfg.Grace):
			cancelSend()
		case <-sendCtx.Done():
		}
	}()
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		t := time.NewTicker(cfg.StatsEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				raised, err := cl.raisedAlerts(runCtx)
				if err != nil {
					raised = -1
				}
				st.print(cfg.Out, time.Since(start), raised)
			}
		}
	}()
	wg.Wait()
	<-statsDone
	cancelSend()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if raised, err := cl.raisedAlerts(fctx); err == nil {
		rep.AlertsRaised = raised
	}
	st.print(cfg.Out, time.Since(start), rep.AlertsRaised)
	rep.ReadingsSent, rep.ReadingsAccepted, rep.ReadingsDuplicates, rep.ReadingsErrors = st.rSent.Load(), st.rAccepted.Load(), st.rDup.Load(), st.rErr.Load()
	rep.PositionsSent, rep.PositionsAccepted, rep.PositionsDuplicates, rep.PositionsErrors = st.pSent.Load(), st.pAccepted.Load(), st.pDup.Load(), st.pErr.Load()
	rep.Throttled, rep.FaultEpisodes = throttled.Load(), st.faults.Load()
	rep.IncidentsReported, rep.IncidentsErrors = st.iReported.Load(), st.iErr.Load()
	return rep, nil
}

func connectMQTT(raw string, seed int64) (mqtt.Client, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("MQTT URL %q: want like tcp://127.0.0.1:1883", raw)
	}
	opts := mqtt.NewClientOptions()
	if u.User != nil {
		opts.SetUsername(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			opts.SetPassword(pw)
		}
		u.User = nil
	}
	opts.AddBroker(u.String())
	opts.SetClientID(fmt.Sprintf("hexward-simulate-%d-%d", seed, time.Now().UnixNano()%1e9))
	opts.SetConnectTimeout(10 * time.Second)
	opts.SetAutoReconnect(true)
	opts.SetCleanSession(true)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, fmt.Errorf("connecting to the MQTT broker %s: timed out", u.Redacted())
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connecting to the MQTT broker %s: %w", u.Redacted(), err)
	}
	return c, nil
}

// simStats counts what the run did.
type simStats struct {
	rSent, rAccepted, rDup, rErr atomic.Int64
	pSent, pAccepted, pDup, pErr atomic.Int64
	faults, faulting             atomic.Int64
	iReported, iErr              atomic.Int64 // incident reports
	throttled                    *atomic.Int64
	mu                           sync.Mutex
	lastR, lastP                 int64
	lastAt                       time.Duration
}

func (s *simStats) print(w io.Writer, elapsed time.Duration, raised int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ps := s.rSent.Load(), s.pSent.Load()
	dt := (elapsed - s.lastAt).Seconds()
	rRate, pRate := 0.0, 0.0
	if dt > 0 {
		rRate, pRate = float64(rs-s.lastR)/dt, float64(ps-s.lastP)/dt
	}
	s.lastR, s.lastP, s.lastAt = rs, ps, elapsed
	alerts := "?"
	if raised >= 0 {
		alerts = strconv.Itoa(raised)
	}
	fmt.Fprintf(w, "%6.0fs  readings sent %d (%.1f/s) accepted %d dup %d err %d | positions sent %d (%.1f/s) accepted %d dup %d err %d | incidents reported %d err %d | 429s %d | faults %d (now %d) | alerts raised %s\n",
		elapsed.Seconds(), rs, rRate, s.rAccepted.Load(), s.rDup.Load(), s.rErr.Load(),
		ps, pRate, s.pAccepted.Load(), s.pDup.Load(), s.pErr.Load(), s.iReported.Load(), s.iErr.Load(),
		s.throttled.Load(), s.faults.Load(), s.faulting.Load(), alerts)
}

// simRun is the state the loops share.
type simRun struct {
	cfg     simConfig
	log     *slog.Logger
	cl      *simClient
	mq      mqtt.Client
	tokens  map[string]*simToken // read only while running
	st      *simStats
	sendCtx context.Context
	logged  sync.Map // error kinds already logged
}

// logOnce logs the first error of each kind.
func (r *simRun) logOnce(kind string, err error) {
	if _, seen := r.logged.LoadOrStore(kind, true); !seen {
		r.log.Warn("simulate: "+kind+" failing (further errors of this kind are only counted)", "err", err)
	}
}

// ---- sensors ----

type wireReading struct {
	Sensor int64   `json:"sensor"`
	TS     string  `json:"ts"`
	Value  float64 `json:"value"`
}

type readingBatch struct {
	device   string
	readings []wireReading
	viaMQTT  bool
}

// sensorLoop reports the sensors' readings: the sensor due first reports
// next, at most ReadingsRate per second, in batches per device sent by a
// few workers.
func (r *simRun) sensorLoop(ctx context.Context, sensors []*simSensor, interval float64) {
	batches := make(chan readingBatch, 2)
	var workers sync.WaitGroup
	for range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for b := range batches {
				r.sendReadings(b)
			}
		}()
	}
	defer func() {
		close(batches)
		workers.Wait()
	}()

	start := time.Now()
	normal := time.Duration(interval * float64(time.Second))
	q := make(sensorQueue, len(sensors))
	for i, s := range sensors {
		s.start(normal)
		q[i] = s
	}
	heap.Init(&q)
	pending := map[string]*readingBatch{}
	firstAt := map[string]time.Time{}
	nBatches := 0
	flush := func(device string) bool {
		b := pending[device]
		if b == nil || len(b.readings) == 0 {
			return true
		}
		delete(pending, device)
		delete(firstAt, device)
		switch r.cfg.Transport {
		case "mqtt":
			b.viaMQTT = true
		case "both":
			b.viaMQTT = nBatches%2 == 1
		}
		nBatches++
		select { // blocks while the workers are busy: back pressure
		case batches <- *b:
			return true
		case <-r.sendCtx.Done():
			return false
		}
	}
	defer func() { // what is pending still goes out
		for d := range pending {
			if !flush(d) {
				return
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	tokens, burst := 0.0, max(1, min(r.cfg.ReadingsRate/2, float64(r.cfg.Batch*4)))
	last := start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			tokens = min(burst, tokens+now.Sub(last).Seconds()*r.cfg.ReadingsRate)
			last = now
			at := now.Sub(start)
			for tokens >= 1 && q[0].due <= at {
				s := q[0]
				wasFaulting := s.faulting
				v := s.read(at)
				if s.faulting && !wasFaulting {
					r.st.faults.Add(1)
					r.st.faulting.Add(1)
				} else if !s.faulting && wasFaulting {
					r.st.faulting.Add(-1)
				}
				heap.Fix(&q, 0)
				tokens--
				b := pending[s.device]
				if b == nil {
					b = &readingBatch{device: s.device}
					pending[s.device] = b
					firstAt[s.device] = now
				}
				b.readings = append(b.readings, wireReading{Sensor: s.id, TS: time.Now().UTC().Format(time.RFC3339Nano), Value: v})
				if len(b.readings) >= r.cfg.Batch && !flush(s.device) {
					return
				}
			}
			for d, t := range firstAt {
				if now.Sub(t) >= 250*time.Millisecond && !flush(d) {
					return
				}
			}
		}
	}
}

func (r *simRun) sendReadings(b readingBatch) {
	n := int64(len(b.readings))
	body := map[string]any{"readings": b.readings}
	if b.viaMQTT {
		if err := r.publish("hexward/"+b.device+"/readings", body); err != nil {
			r.st.rErr.Add(n)
			r.logOnce("MQTT readings", err)
			return
		}
		r.st.rSent.Add(n)
		return
	}
	var out struct{ Accepted, Duplicates int64 }
	var err error
	for attempt := range 3 {
		err = r.cl.do(r.sendCtx, http.MethodPost, "/ingest/readings", r.tokens[b.device].secret, body, &out)
		var ae *apiError
		if err == nil || errors.As(err, &ae) && ae.status < 500 || r.sendCtx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	r.st.rSent.Add(n)
	if err != nil {
		r.st.rErr.Add(n)
		r.logOnce("readings", err)
		return
	}
	r.st.rAccepted.Add(out.Accepted)
	r.st.rDup.Add(out.Duplicates)
}

// publish sends body to topic with QoS 1 and waits for the broker's ack.
func (r *simRun) publish(topic string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	tok := r.mq.Publish(topic, 1, false, raw)
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publishing to %s: no ack from the broker in 10 s", topic)
	}
	return tok.Error()
}

// simSensor is one sensor's simulated behaviour: values near its normal
// level, and now and then a fault episode above its alarm threshold long
// enough to raise an alert (its min_duration_s and then some), after which
// it returns to normal so the alert clears.
type simSensor struct {
	id           int64
	device, kind string
	warn, alarm  *float64
	hyst, minDur float64 // minDur in seconds
	offlineAfter float64
	rng          *rand.Rand // values
	faultRng     *rand.Rand // when faults start and how long they last
	lambda       float64    // fault episodes per second
	level        float64    // the normal level it wanders about
	spread       float64
	value        float64

	normal, faultEvery   time.Duration // reporting intervals
	due                  time.Duration // next report, since the run's start
	faulting             bool
	faultStart, faultEnd time.Duration
	index                int // in the queue
}

const never = time.Duration(math.MaxInt64)

// newSimSensor reads a sensor feature; nil when it has no device or no id.
func newSimSensor(f simFeature, seed int64, faultRate float64) *simSensor {
	dev, _ := f.Properties["device"].(string)
	if dev == "" || f.ID <= 0 {
		return nil
	}
	num := func(k string) *float64 {
		if v, ok := f.Properties[k].(float64); ok && !math.IsNaN(v) {
			return &v
		}
		return nil
	}
	s := &simSensor{id: f.ID, device: dev, warn: num("warn_above"), alarm: num("alarm_above"), offlineAfter: math.Inf(1),
		rng: rand.New(rand.NewPCG(uint64(seed), uint64(f.ID)<<2)), faultRng: rand.New(rand.NewPCG(uint64(seed), uint64(f.ID)<<2|2))}
	s.kind, _ = f.Properties["kind"].(string)
	if v := num("hysteresis"); v != nil && *v > 0 {
		s.hyst = *v
	}
	if v := num("min_duration_s"); v != nil && *v > 0 {
		s.minDur = *v
	}
	if v := num("offline_after_s"); v != nil && *v > 0 {
		s.offlineAfter = *v
	}
	if faultRate > 0 && (s.warn != nil || s.alarm != nil) {
		if faultRate >= 1 {
			s.lambda = math.Inf(1)
		} else {
			s.lambda = -math.Log1p(-faultRate) / 60
		}
	}
	// The normal level, per kind, kept below the lowest threshold.
	r := s.rng
	switch s.kind {
	case "electricity":
		s.level, s.spread = 6+12*r.Float64(), 1.5
	case "gas":
		s.level, s.spread = 0.5+1.5*r.Float64(), 0.3
	case "water_immersion":
		s.level, s.spread = 0, 0.1
	case "smoke":
		s.level, s.spread = 0.2+0.8*r.Float64(), 0.15
	case "door":
		s.level, s.spread = 0, 0
	default:
		s.level = 10
		if lim, ok := s.limit(); ok {
			s.level = 0.4 * lim
		}
		s.spread = math.Abs(s.level) * 0.05
	}
	s.value = s.level
	return s
}

// limit is the lowest threshold.
func (s *simSensor) limit() (float64, bool) {
	switch {
	case s.warn != nil && s.alarm != nil:
		return min(*s.warn, *s.alarm), true
	case s.warn != nil:
		return *s.warn, true
	case s.alarm != nil:
		return *s.alarm, true
	}
	return 0, false
}

// start schedules the first report (spread over the first interval) and
// the first fault.
func (s *simSensor) start(normal time.Duration) {
	s.normal = normal
	s.faultEvery = min(normal, 2*time.Second)
	s.due = time.Duration(s.faultRng.Float64() * float64(normal))
	s.faultStart = s.nextFault(0)
}

// nextFault draws when the next fault episode starts after t.
func (s *simSensor) nextFault(t time.Duration) time.Duration {
	switch {
	case s.lambda == 0:
		return never
	case math.IsInf(s.lambda, 1):
		return t + time.Duration(s.faultRng.Float64()*float64(time.Second))
	}
	d := s.faultRng.ExpFloat64() / s.lambda
	if d > 1e8 {
		return never
	}
	return t + time.Duration(d*float64(time.Second))
}

// read gives the sensor's value at t (since the run's start) and schedules
// its next report.
func (s *simSensor) read(t time.Duration) float64 {
	if !s.faulting && t >= s.faultStart {
		s.faulting = true
		// Long enough above the threshold to raise the alert, then some.
		hold := s.minDur + 3*s.faultEvery.Seconds() + 60*s.faultRng.Float64()
		s.faultEnd = t + time.Duration(hold*float64(time.Second))
	} else if s.faulting && t >= s.faultEnd {
		s.faulting = false
		s.faultStart = s.nextFault(t + s.normal)
	}
	var v float64
	if s.faulting {
		v = s.faultValue()
		s.due = min(t+s.faultEvery, s.faultEnd) // faultEnd > t
	} else {
		v = s.normalValue()
		s.due = min(t+s.normal, s.faultStart) // faultStart > t
	}
	return math.Round(v*100) / 100
}

func (s *simSensor) normalValue() float64 {
	if s.kind == "door" {
		return 0 // closed
	}
	// A random walk pulled back to the normal level.
	s.value += (s.level-s.value)*0.2 + s.rng.NormFloat64()*s.spread
	s.value = max(s.value, 0)
	if lim, ok := s.limit(); ok {
		ceil := lim - s.hyst - 0.05*math.Abs(lim)
		if s.value > ceil {
			s.value = max(0, min(ceil, s.level))
		}
	}
	return s.value
}

func (s *simSensor) faultValue() float64 {
	top := 0.0
	switch {
	case s.alarm != nil:
		top = *s.alarm
	case s.warn != nil:
		top = *s.warn
	}
	if s.kind == "door" { // held open
		if top < 1 {
			return 1
		}
		return top + 1
	}
	margin := max(s.hyst, 0.15*math.Abs(top), 0.5)
	return top + margin*(1+2*s.rng.Float64())
}

// sensorQueue orders sensors by their next report.
type sensorQueue []*simSensor

func (q sensorQueue) Len() int           { return len(q) }
func (q sensorQueue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q sensorQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *sensorQueue) Push(x any) { s := x.(*simSensor); s.index = len(*q); *q = append(*q, s) }
func (q *sensorQueue) Pop() any {
	old := *q
	s := old[len(old)-1]
	*q = old[:len(old)-1]
	return s
}

// ---- officers ----

// wirePosition is one fix of POST /ingest/positions.
type wirePosition struct {
	TS       string  `json:"ts"`
	Lon      float64 `json:"lon"`
	Lat      float64 `json:"lat"`
	Speed    float64 `json:"speed"`
	Bearing  float64 `json:"bearing"`
	Accuracy float64 `json:"accuracy"`
	Battery  float64 `json:"battery"`
}

// officerLoop walks one officer and reports a fix every `every`, and an
// incident at the fix when inc (nil: none) says one is due.
func (r *simRun) officerLoop(ctx context.Context, i int, device string, w *walker, every time.Duration, inc *incidentPlan) {
	battery := 60 + 40*w.noise.Float64()
	first := time.Duration(w.noise.Float64() * float64(every))
	t := time.NewTimer(first)
	defer t.Stop()
	last := time.Now()
	begin := last
	var pending []wirePosition // json: fixes not yet stored
	token := r.tokens[device].secret
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		w.step(now.Sub(last).Seconds())
		last = now
		battery = max(5, battery-0.0005*every.Seconds())
		lon, lat, acc := w.fix()
		p := wirePosition{TS: now.UTC().Format(time.RFC3339Nano), Lon: round7f(lon), Lat: round7f(lat), Speed: math.Round(w.speed*100) / 100,
			Bearing: math.Round(w.bearing()*10) / 10, Accuracy: math.Round(acc*10) / 10, Battery: math.Round(battery*10) / 10}
		switch r.cfg.PositionsVia {
		case "osmand":
			q := url.Values{"id": {device}, "lat": {strconv.FormatFloat(p.Lat, 'f', 7, 64)}, "lon": {strconv.FormatFloat(p.Lon, 'f', 7, 64)},
				"timestamp": {strconv.FormatInt(now.UnixMilli(), 10)}, "speed": {strconv.FormatFloat(p.Speed/(1852.0/3600), 'f', 2, 64)},
				"bearing": {strconv.FormatFloat(p.Bearing, 'f', 1, 64)}, "accuracy": {strconv.FormatFloat(p.Accuracy, 'f', 1, 64)},
				"batt": {strconv.FormatFloat(p.Battery, 'f', 1, 64)}}
			r.st.pSent.Add(1)
			if err := r.cl.do(r.sendCtx, http.MethodGet, "/osmand?"+q.Encode(), token, nil, nil); err != nil {
				r.st.pErr.Add(1)
				r.logOnce("OsmAnd positions", err)
			} else {
				r.st.pAccepted.Add(1)
			}
		case "json":
			pending = append(pending, p)
			if len(pending) > 1000 {
				pending = pending[len(pending)-1000:]
			}
			var out struct{ Accepted, Duplicates int64 }
			r.st.pSent.Add(1)
			if err := r.cl.do(r.sendCtx, http.MethodPost, "/ingest/positions", token, map[string]any{"positions": pending}, &out); err != nil {
				r.st.pErr.Add(1)
				r.logOnce("JSON positions", err)
				if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusForbidden) {
					pending = nil // will not get better
				}
			} else {
				r.st.pAccepted.Add(out.Accepted)
				r.st.pDup.Add(out.Duplicates)
				pending = pending[:0]
			}
		case "mqtt":
			r.st.pSent.Add(1)
			if err := r.publish("hexward/"+device+"/positions", map[string]any{"positions": []wirePosition{p}}); err != nil {
				r.st.pErr.Add(1)
				r.logOnce("MQTT positions", err)
			}
		}
		if inc != nil {
			if kind, ok := inc.due(now.Sub(begin)); ok {
				r.reportIncident(inc.token, kind, p)
			}
		}
		t.Reset(max(0, every-time.Since(now)))
	}
}

// reportIncident reports an incident of kind at fix p.
func (r *simRun) reportIncident(token, kind string, p wirePosition) {
	body := map[string]any{"kind": kind, "note": "模拟巡查上报 simulated patrol report", "position": []float64{p.Lon, p.Lat}}
	if err := r.cl.do(r.sendCtx, http.MethodPost, "/api/incidents", token, body, nil); err != nil {
		r.st.iErr.Add(1)
		r.logOnce("incident reports", err)
		return
	}
	r.st.iReported.Add(1)
}

// incidentStream sets the random numbers of the incident reports apart
// from the walks' and the sensors' of the same seed.
const incidentStream = 0x1c1de475

// incidentPlan is when one officer reports an incident and of what kind:
// a Poisson process of its rate over the officer's walking time, with the
// kinds drawn evenly, from the officer's own random numbers, so a seed
// gives the same reports.
type incidentPlan struct {
	rng       *rand.Rand
	perSecond float64
	kinds     []string
	token     string        // the reporting account's API token
	next      time.Duration // the next report, since the officer set out
}

func newIncidentPlan(perHour float64, kinds []string, token string, rng *rand.Rand) *incidentPlan {
	p := &incidentPlan{rng: rng, perSecond: perHour / 3600, kinds: kinds, token: token}
	p.next = p.after(0)
	return p
}

// after draws the time of the report that follows one at t.
func (p *incidentPlan) after(t time.Duration) time.Duration {
	if p.perSecond <= 0 {
		return never
	}
	d := p.rng.ExpFloat64() / p.perSecond
	if d > 1e8 {
		return never
	}
	return t + time.Duration(d*float64(time.Second))
}

// due says whether a report is due at t (since the officer set out) and
// its kind; one at most per call, the next one drawn after t.
func (p *incidentPlan) due(t time.Duration) (string, bool) {
	if t < p.next {
		return "", false
	}
	kind := p.kinds[p.rng.IntN(len(p.kinds))]
	p.next = p.after(t)
	return kind, true
}

func round7f(f float64) float64 { return math.Round(f*1e7) / 1e7 }

// streetGraph is the street network as a graph: every vertex of a street
// is a node, vertices within tol metres of each other are one node, and
// consecutive vertices of a street are joined by an edge. Coordinates are
// in metres on a local plane about the network's centre.
type streetGraph struct {
	lon0, lat0, kx, ky float64 // metres per degree
	pts                []orb.Point
	adj                [][]int
}

func newStreetGraph(lines []orb.LineString, tol float64) *streetGraph {
	g := &streetGraph{ky: 110_540}
	var b orb.Bound
	first := true
	for _, l := range lines {
		for _, p := range l {
			if first {
				b, first = orb.Bound{Min: p, Max: p}, false
			}
			b = b.Extend(p)
		}
	}
	if first {
		return g
	}
	g.lon0, g.lat0 = b.Center()[0], b.Center()[1]
	g.kx = 111_320 * math.Cos(g.lat0*math.Pi/180)
	cell := func(p orb.Point) [2]int64 {
		return [2]int64{int64(math.Floor(p[0] / tol)), int64(math.Floor(p[1] / tol))}
	}
	grid := map[[2]int64][]int{}
	node := func(p orb.Point) int {
		c := cell(p)
		best, bestD := -1, tol
		for dx := int64(-1); dx <= 1; dx++ {
			for dy := int64(-1); dy <= 1; dy++ {
				for _, n := range grid[[2]int64{c[0] + dx, c[1] + dy}] {
					if d := dist(g.pts[n], p); d <= bestD {
						best, bestD = n, d
					}
				}
			}
		}
		if best >= 0 {
			return best
		}
		g.pts = append(g.pts, p)
		g.adj = append(g.adj, nil)
		grid[c] = append(grid[c], len(g.pts)-1)
		return len(g.pts) - 1
	}
	link := func(a, b int) {
		if a != b && !slices.Contains(g.adj[a], b) {
			g.adj[a] = append(g.adj[a], b)
			g.adj[b] = append(g.adj[b], a)
		}
	}
	for _, l := range lines {
		prev := -1
		for _, p := range l {
			n := node(g.local(p))
			if prev >= 0 {
				link(prev, n)
			}
			prev = n
		}
	}
	return g
}

// edges counts the graph's edges.
func (g *streetGraph) edges() int {
	n := 0
	for _, a := range g.adj {
		n += len(a)
	}
	return n / 2
}

// local projects lon/lat to the graph's plane; lonLat goes back.
func (g *streetGraph) local(p orb.Point) orb.Point {
	return orb.Point{(p[0] - g.lon0) * g.kx, (p[1] - g.lat0) * g.ky}
}

func (g *streetGraph) lonLat(p orb.Point) orb.Point {
	return orb.Point{g.lon0 + p[0]/g.kx, g.lat0 + p[1]/g.ky}
}

func dist(a, b orb.Point) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

// Walking speeds of the officers, m/s.
const (
	walkMin = 1.2
	walkMax = 1.6
	gpsSD   = 2.5 // GPS jitter per axis, metres (clipped at 3 sd)
)

// walker is an officer walking the street network: along an edge at 1.2–1.6
// m/s, turning at random at junctions and back at dead ends.
type walker struct {
	g        *streetGraph
	rng      *rand.Rand // the route and pace
	noise    *rand.Rand // GPS jitter, accuracy, battery
	from, to int
	along    float64 // metres from `from` towards `to`
	speed    float64 // m/s
	base     float64 // the officer's own pace
	walked   float64 // metres in all
	stuck    bool    // no street to walk
}

// newWalker starts at the node nearest at (lon/lat) that has a street.
func newWalker(g *streetGraph, at orb.Point, rng *rand.Rand) *walker {
	w := &walker{g: g, rng: rng, noise: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		base: walkMin + 0.1 + (walkMax-walkMin-0.2)*rng.Float64()}
	w.speed = w.base
	p := g.local(at)
	best, bestD := -1, math.Inf(1)
	for i, q := range g.pts {
		if d := dist(p, q); d < bestD && len(g.adj[i]) > 0 {
			best, bestD = i, d
		}
	}
	if best < 0 {
		w.stuck = true
		return w
	}
	w.from = best
	w.to = g.adj[best][rng.IntN(len(g.adj[best]))]
	return w
}

// step walks dt seconds.
func (w *walker) step(dt float64) {
	if w.stuck || dt <= 0 {
		return
	}
	left := w.speed * dt
	w.walked += left
	for left > 0 {
		l := dist(w.g.pts[w.from], w.g.pts[w.to])
		if w.along+left < l {
			w.along += left
			return
		}
		left -= l - w.along
		// At a node: turn into another street, back only at a dead end.
		next := w.g.adj[w.to]
		choices := make([]int, 0, len(next))
		for _, n := range next {
			if n != w.from {
				choices = append(choices, n)
			}
		}
		if len(choices) == 0 {
			choices = next
		}
		w.from, w.to, w.along = w.to, choices[w.rng.IntN(len(choices))], 0
		w.speed = min(walkMax, max(walkMin, w.base+0.05*w.rng.NormFloat64()))
	}
}

// pos is where the officer is on the plane.
func (w *walker) pos() orb.Point {
	if w.stuck {
		return orb.Point{}
	}
	a, b := w.g.pts[w.from], w.g.pts[w.to]
	l := dist(a, b)
	if l == 0 {
		return a
	}
	f := w.along / l
	return orb.Point{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])}
}

// bearing is the heading in degrees clockwise from north, 0 ≤ b < 360.
func (w *walker) bearing() float64 {
	if w.stuck {
		return 0
	}
	a, b := w.g.pts[w.from], w.g.pts[w.to]
	d := math.Atan2(b[0]-a[0], b[1]-a[1]) * 180 / math.Pi
	if d < 0 {
		d += 360
	}
	if d >= 360 {
		d = 0
	}
	return d
}

// fix is what the phone reports: the position with GPS jitter, and its
// accuracy in metres.
func (w *walker) fix() (lon, lat, accuracy float64) {
	p := w.pos()
	jit := func() float64 { return max(-3*gpsSD, min(3*gpsSD, w.noise.NormFloat64()*gpsSD)) }
	p[0] += jit()
	p[1] += jit()
	ll := w.g.lonLat(p)
	return ll[0], ll[1], 3 + 5*w.noise.Float64()
}
