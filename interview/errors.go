package interview

import (
	"errors"
	"fmt"
)

// ErrUnavailable says that a store the turn needs (Redis, Postgres) could
// not be reached or did not answer: nothing of the input was applied, and
// the same input should be tried again later. Decide with errors.Is.
var ErrUnavailable = errors.New("store unavailable, retry later")

// ErrInFlight refuses, for now, an input with InFlightGrace that was
// applied but whose replies are not marked sent: most likely a copy is
// being handled elsewhere at this moment. Try again shortly without the
// grace; the input is then dropped (sent meanwhile) or replayed.
var ErrInFlight = errors.New("input applied, its replies perhaps in flight elsewhere")

// unavailable wraps a store's error with ErrUnavailable and what the turn
// was doing. Every error from a store reaches the caller through it, so a
// channel can park the input until the outage ends instead of answering.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
