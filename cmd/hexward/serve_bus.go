package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/bus"
	"github.com/hexward/hexward/layers"
)

// nodeBus joins this node's store to the other nodes' over NATS; nil (no
// NATS URL) is one node with the in-process bus, and its methods do
// nothing.
type nodeBus struct{ *bus.NATS }

// startBus connects to NATS at url and attaches store: this node's
// commits go to the other nodes, theirs come to store's subscribers.
// Empty url: nil, one node.
func startBus(ctx context.Context, log *slog.Logger, store *layers.Store, url, node string) (*nodeBus, error) {
	if url == "" {
		return nil, nil
	}
	b, err := bus.Connect(ctx, url, bus.Options{Node: node, Log: log})
	if err != nil {
		return nil, err
	}
	if err := b.Attach(store); err != nil {
		b.Close()
		return nil, err
	}
	log.Info("joined the other nodes over NATS JetStream", "node", b.Status().Node, "stream", bus.DefaultStream)
	return &nodeBus{b}, nil
}

// Register adds the bus's metrics to reg.
func (nb *nodeBus) Register(reg *prometheus.Registry) {
	if nb != nil {
		_ = nb.NATS.Register(reg) // fails only if registered twice
	}
}

// Close publishes what is queued (briefly), then disconnects.
func (nb *nodeBus) Close() {
	if nb != nil {
		nb.NATS.Close()
	}
}
