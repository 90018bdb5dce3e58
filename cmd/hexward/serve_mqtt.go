package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/ingest/mqttingest"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/layers/readings"
)

// startMQTT starts the MQTT ingest when url is set, in the share group
// shareGroup if not empty; the returned function stops it (a no-op without
// MQTT).
func startMQTT(ctx context.Context, log *slog.Logger, url, clientID, shareGroup string, store *layers.Store,
	rules *readings.Ingester, accounts *auth.Accounts, reg prometheus.Registerer) (stop func(), check func() error, err error) {
	if url == "" {
		return func() {}, nil, nil
	}
	in, err := mqttingest.Start(ctx, mqttingest.Options{URL: url, ClientID: clientID, ShareGroup: shareGroup, Readings: rules,
		Positions: positions.New(store).SetAlerts(rules), Accounts: accounts, Log: log, Registry: reg})
	if err != nil {
		return nil, nil, err
	}
	check = func() error {
		if !in.Connected() {
			return errors.New("not connected to the MQTT broker (reconnecting; devices' messages wait there)")
		}
		return nil
	}
	return in.Close, check, nil
}
