// Package jsonerr says what is wrong with a JSON document that
// encoding/json refused, in words a client can act on: where the syntax
// breaks, or which field has the wrong type. Every decoder of outside JSON
// (HTTP bodies, MQTT payloads) answers with it.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Problem describes err, an error of json.Unmarshal or a json.Decoder.
func Problem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return fmt.Sprintf("JSON field %q: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return fmt.Sprintf("malformed JSON: %v", err)
}
