package mqttingest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/internal/servicetest"
)

const mosquittoBin = "/usr/sbin/mosquitto"

// broker is a private Mosquitto that a test can stop and start again on
// the same port and persistence folder.
type broker struct {
	t    *testing.T
	conf string
	addr string
	cmd  *exec.Cmd
	log  *os.File
}

func startPrivateBroker(t *testing.T) *broker {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		servicetest.Missing(t, "no mosquitto: %v", err)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"+
		"max_queued_messages 100000\nlog_dest stderr\n", port, dir)
	if os.Geteuid() == 0 {
		conf += "user root\n" // else it drops to user mosquitto, who cannot write dir
	}
	b := &broker{t: t, conf: filepath.Join(dir, "mosquitto.conf"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if b.log, err = os.Create(filepath.Join(dir, "mosquitto.log")); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			out, _ := os.ReadFile(b.log.Name())
			t.Logf("mosquitto log:\n%s", out)
		}
	})
	return b
}

func (b *broker) url() string { return "tcp://" + b.addr }

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(mosquittoBin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	eventually(b.t, "mosquitto listening on "+b.addr, func() (bool, string) {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// stop ends Mosquitto as a service manager would (SIGTERM), which saves its
// sessions and queued messages to the persistence folder.
func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
	b.cmd = nil
}

// TestNothingAcknowledgedIsLostWhenTheBrokerRestarts publishes readings
// with QoS 1 from a persistent session while the broker is stopped and
// started again: every reading whose PUBACK the publisher got ends up in
// the database, and the ingest reconnects by itself.
func TestNothingAcknowledgedIsLostWhenTheBrokerRestarts(t *testing.T) {
	b := startPrivateBroker(t)
	e := newEnv(t, b.url(), Options{})
	dev := e.account(t, auth.Device)
	s := e.sensor(t, dev, nil)
	pub := publisher(t, b.url(), mqtt.NewClientOptions().SetClientID(unique("hexward-test-pub-")).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetMaxReconnectInterval(time.Second).SetConnectRetryInterval(200*time.Millisecond))

	const n = 300
	tokens := make([]mqtt.Token, n)
	var published sync.WaitGroup
	half := make(chan struct{})
	published.Add(1)
	go func() {
		defer published.Done()
		for i := range n {
			if i == n/3 {
				close(half)
			}
			// One reading a message, a second apart in sensor time.
			tokens[i] = pub.Publish("hexward/"+dev+"/readings", 1, false,
				fmt.Sprintf(`{"readings":[{"sensor":%d,"ts":%q,"value":%d}]}`, s, at(i), i))
			time.Sleep(3 * time.Millisecond)
		}
	}()
	<-half
	b.stop()
	if e.in.Connected() {
		eventually(t, "the ingest noticing the broker is gone", func() (bool, string) { return !e.in.Connected(), "" })
	}
	time.Sleep(300 * time.Millisecond) // publishing goes on meanwhile
	b.start()
	published.Wait()

	var acked []int
	var failed []string
	for i, tok := range tokens {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			failed = append(failed, fmt.Sprintf("%d: %v", i, tok.Error()))
			continue
		}
		acked = append(acked, i)
	}
	if len(failed) > 0 {
		t.Logf("%d publications not acknowledged (not required to be stored): %s", len(failed), strings.Join(failed, "; "))
	}
	if len(acked) < n/2 {
		t.Fatalf("only %d of %d publications acknowledged", len(acked), n)
	}
	eventually(t, "every acknowledged reading in the database", func() (bool, string) {
		rows, err := e.store.Pool().Query(ctx, `SELECT value FROM readings WHERE sensor_id = $1`, s)
		if err != nil {
			return false, err.Error()
		}
		have := map[int]bool{}
		for rows.Next() {
			var v float64
			_ = rows.Scan(&v)
			have[int(v)] = true
		}
		var lost []int
		for _, i := range acked {
			if !have[i] {
				lost = append(lost, i)
			}
		}
		return len(lost) == 0, fmt.Sprintf("%d acknowledged readings missing: %v", len(lost), lost)
	})
	if c := e.metric(t, "hexward_mqtt_connects_total"); c < 2 {
		t.Fatalf("%v connections to the broker; the ingest did not reconnect", c)
	}
	if !e.in.Connected() {
		t.Fatal("the ingest is not connected after the restart")
	}
	if r := e.metric(t, "hexward_mqtt_rejected_total"); r != 0 {
		t.Fatalf("%v messages rejected", r)
	}
}
