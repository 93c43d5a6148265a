package interview

import (
	"errors"
	"fmt"
)

// ErrUnavailable says that a store the turn needs (Redis, Postgres) could
// not be reached or did not answer: nothing of the input was applied, and
// the same input should be tried again later. Decide with errors.Is.
var ErrUnavailable = errors.New("store unavailable, retry later")

// unavailable wraps a store's error with ErrUnavailable and what the turn
// was doing. Every error from a store reaches the caller through it, so a
// channel can park the input until the outage ends instead of answering.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
