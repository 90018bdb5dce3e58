package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the HMAC-SHA256 of the request body under the
// shared secret, as "sha256=<hex>".
const SignatureHeader = "X-Hexward-Signature"

// Sign returns the value of SignatureHeader for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header, a SignatureHeader value, signs body under
// secret; receivers written in Go can use it.
func Verify(secret, body []byte, header string) bool {
	want := Sign(secret, body)
	return hmac.Equal([]byte(header), []byte(want))
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// Permanent marks err as a failure not worth retrying: the row is dropped
// at once. A Publisher may return it.
func Permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// DefaultTimeout bounds one delivery.
const DefaultTimeout = 10 * time.Second

// NewHTTPClient returns the client webhooks are posted with: timeout
// DefaultTimeout, redirects not followed (a POST is not re-sent elsewhere).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// postWebhook POSTs one payload. 2xx is success; 4xx other than 408 and
// 429 is permanent (the receiver refuses this request and will again);
// anything else is worth retrying.
func postWebhook(ctx context.Context, c *http.Client, secret []byte, target string, rowID int64, event string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return Permanent(fmt.Errorf("webhook %s: %w", Redact(target), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hexward-outbox/1")
	req.Header.Set("X-Hexward-Event", event)
	req.Header.Set("X-Hexward-Delivery", strconv.FormatInt(rowID, 10))
	if len(secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(secret, payload))
	}
	resp, err := c.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %s: %w", Redact(target), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook %s: %s: %s", Redact(target), resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return Permanent(err)
	}
	return err
}
