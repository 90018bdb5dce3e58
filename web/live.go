package web

import (
	"bufio"
	"net"
	"net/http"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/web/live"
)

// newHub builds the live stream's hub over the store and subscribes it to
// the change log.
func (s *Server) newHub() *live.Hub {
	var names []string
	for _, l := range s.cat.Layers() {
		names = append(names, l.Name)
	}
	h := live.NewHub(s.store, live.Options{Log: s.log, Registry: s.registry, CORSOrigins: s.cors, Layers: names})
	s.store.Subscribe(func(cs []layers.Change) { h.Publish(cs) })
	return h
}

// live serves GET /live: the websocket live stream (web/live/PROTOCOL.md),
// filtered to the caller's area scope. A plain GET gets 400.
func (s *Server) live(w http.ResponseWriter, r *http.Request) error {
	s.hub.ServeWS(hijackable{w}, r, scopeOf(r))
	return nil
}

// Close disconnects the live stream's clients and stops its hub; call it
// when the server shuts down (http.Server.RegisterOnShutdown).
func (s *Server) Close() { s.hub.Close() }

// hijackable lets the websocket upgrade take over the connection under
// the status-recording writer of authorize.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}
