package main

import (
	"context"
	"errors"
	"log/slog"
)

func bench(ctx context.Context, log *slog.Logger, args []string) error {
	return errors.New("bench: not built yet")
}
