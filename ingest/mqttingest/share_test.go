package mqttingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/layers/readings"
)

// TestShareGroupStoresEachMessageOnce: two ingests over one database, in
// one share group with a client id each, share the messages: every
// reading is stored once, and the two handle n messages between them, not
// n each. The first node ran alone before, without the group: the
// subscription its persistent session kept from then must not go on
// giving it every message.
func TestShareGroupStoresEachMessageOnce(t *testing.T) {
	id1 := unique("hexward-test-ingest-")
	alone := newEnv(t, brokerURL(t), Options{ClientID: id1})
	alone.in.Close() // its session keeps the subscription to hexward/+/readings
	group := unique("hexward-test-")
	nodes := []*env{alone.start(t, Options{ClientID: id1, ShareGroup: group}), alone.start(t, Options{ShareGroup: group})}
	e := nodes[0]
	dev := e.account(t, auth.Device)
	s := e.sensor(t, dev, nil)
	if _, err := e.store.Create(ctx, layers.Feature{Layer: "officers", Geometry: orb.Point{114.10, 22.50},
		Props: map[string]any{"name": "王警官", "device": dev, "duty": "patrol"}}); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, e.url, nil)
	handled := func(kind string) (c [2]float64) {
		for i, nd := range nodes {
			c[i] = nd.metric(t, "hexward_mqtt_messages_total", "kind", kind)
		}
		return c
	}

	const n = 200
	tokens := make([]mqtt.Token, n)
	for i := range n {
		tokens[i] = pub.Publish("hexward/"+dev+"/readings", 1, false,
			fmt.Sprintf(`{"readings":[{"sensor":%d,"ts":%q,"value":%d}]}`, s, at(i), i))
	}
	for i, tok := range tokens {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publication %d not acknowledged: %v", i, tok.Error())
		}
	}

	// A node gets an account's messages in the order published and stores
	// them in that order: once each node has stored a position published
	// after the readings, it has handled every reading it will get.
	for i := 0; ; i++ {
		if c := handled("positions"); c[0] > 0 && c[1] > 0 {
			break
		} else if i == 20 {
			t.Logf("after %d positions, one node has stored none: %v", i, c)
			break
		}
		publish(t, pub, "hexward/"+dev+"/positions", map[string]any{"positions": []map[string]any{{"ts": at(i), "lon": 114.1, "lat": 22.5}}})
		eventually(t, "the position stored", func() (bool, string) {
			c := handled("positions")
			return c[0]+c[1] >= float64(i+1), fmt.Sprint(c)
		})
	}
	eventually(t, "every reading stored", func() (bool, string) {
		stored, c := e.readingsOf(t, s), handled("readings")
		return stored >= n && c[0]+c[1] >= n, fmt.Sprintf("%d stored, handled %v", stored, c)
	})

	c := handled("readings")
	t.Logf("%d messages: node 1 handled %v, node 2 %v", n, c[0], c[1])
	if c[0]+c[1] != n {
		t.Fatalf("the nodes handled %v + %v messages, want %d between them", c[0], c[1], n)
	}
	if stored := e.readingsOf(t, s); stored != n {
		t.Fatalf("%d readings stored, want %d", stored, n)
	}
	for i, nd := range nodes {
		if d := nd.metric(t, "hexward_mqtt_duplicates_total"); d != 0 {
			t.Errorf("node %d: %v duplicates", i+1, d)
		}
		if r := nd.metric(t, "hexward_mqtt_rejected_total"); r != 0 {
			t.Errorf("node %d: %v rejected", i+1, r)
		}
	}
}

func TestBadShareGroupIsRejected(t *testing.T) {
	pool := pgtest.New(t)
	store := layers.NewStore(pool, layers.Governance())
	opt := Options{URL: "tcp://127.0.0.1:1883", Readings: readings.New(store, nil), Positions: positions.New(store),
		Accounts: auth.NewAccounts(pool, nil)}
	for _, g := range []string{"nodes/1", "+", "#", "nodes#", "a+b", "nul\x00", "\xff"} {
		opt.ShareGroup = g
		in, err := Start(ctx, opt)
		if err == nil {
			in.Close()
			t.Errorf("share group %q accepted", g)
			continue
		}
		if !strings.Contains(err.Error(), "share group") {
			t.Errorf("share group %q: error %q does not name the share group", g, err)
		}
	}
	for _, g := range []string{"", "hexward", "ingest-nodes_1", "节点"} {
		if err := validShareGroup(g); err != nil {
			t.Errorf("share group %q: %v", g, err)
		}
	}
}
