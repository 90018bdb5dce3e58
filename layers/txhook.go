package layers

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// TxHook runs inside the transaction of a single-feature write (Create,
// Replace, Patch, Delete; not Import), after the feature and its change-log
// row are written and before the audit entry. before is the feature as it
// was, as GeoJSON, read under a row lock (nil for an insert); f is the
// feature as written (only Layer and ID for a delete). An error rolls the
// whole write back and is returned by the write. Packages that keep rows
// of their own in step with a feature (the alert transitions of
// layers/readings) use it, and use before for compare-and-swap.
type TxHook func(ctx context.Context, tx pgx.Tx, op Op, f *Feature, before json.RawMessage) error

type txHookKey struct{}

// WithTxHook returns ctx carrying fn for the writes made with it.
func WithTxHook(ctx context.Context, fn TxHook) context.Context {
	return context.WithValue(ctx, txHookKey{}, fn)
}

func txHookFrom(ctx context.Context) TxHook {
	fn, _ := ctx.Value(txHookKey{}).(TxHook)
	return fn
}
