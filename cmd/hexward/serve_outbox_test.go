package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestHookFlags(t *testing.T) {
	t.Setenv("HEXWARD_ALERT_WEBHOOKS", "https://env.example/a")
	t.Setenv("HEXWARD_ALERT_MQTT_TOPICS", "hexward/env")
	parse := func(args ...string) *hookFlags {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addHookFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f
	}
	hs, err := parse().hooks()
	if err != nil || len(hs) != 2 || hs[0].Target != "https://env.example/a" || hs[1].Name != "mqtt-hexward/env" {
		t.Fatalf("env defaults: %+v %v", hs, err)
	}
	hs, err = parse("--alert-webhook", "ops=https://h.example/x?token=1", "--alert-webhook", "https://u:p@h.example/T0/secret",
		"--alert-hook-min-severity", "major").hooks()
	if err != nil || len(hs) != 3 {
		t.Fatalf("%+v %v", hs, err)
	}
	if hs[0].Name != "ops" || hs[0].Target != "https://h.example/x?token=1" || hs[0].MinSeverity != "major" {
		t.Fatalf("named hook %+v", hs[0])
	}
	if !strings.HasPrefix(hs[1].Name, "webhook-h.example-") || strings.Contains(hs[1].Name, "secret") {
		t.Fatalf("derived name %q", hs[1].Name)
	}
	again, _ := parse("--alert-webhook", "https://u:p@h.example/T0/secret").hooks()
	if again[0].Name != hs[1].Name {
		t.Fatalf("derived name not stable: %q, %q", again[0].Name, hs[1].Name)
	}
	for args, want := range map[string]string{
		"--alert-webhook=ftp://x":        "not an absolute http(s) URL",
		"--alert-mqtt-topic=a/#":         "wildcard",
		"--alert-hook-min-severity=high": `min severity "high"`,
		"--alert-webhook=name=not-a-url": "not an absolute http(s) URL",
	} {
		if _, err := parse(args).hooks(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
