package bot

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/needsbot/needsbot/interview"
)

// downSessions is Redis cut off: every call fails as a dropped connection.
type downSessions struct{ *memSessions }

func (downSessions) Load(context.Context, int64, int64) (interview.Loaded, error) {
	return interview.Loaded{}, io.ErrUnexpectedEOF
}

// An update that cannot be applied because a store is down comes back from
// Handle as interview.ErrUnavailable (the intake keeps it and retries),
// and nothing is sent to the person meanwhile.
func TestStoreOutageIsUnavailable(t *testing.T) {
	r := newRig(t)
	r.core.Sessions = downSessions{r.sessions}
	r.rewire()
	u := r.srv.User(990)
	u.Send("hello")
	n := len(u.Messages())
	_, err := r.handler.Handle(context.Background(), textUpdate(1, 990, "/start"), false)
	if !errors.Is(err, interview.ErrUnavailable) {
		t.Fatalf("Handle during an outage: %v, want interview.ErrUnavailable", err)
	}
	if len(u.Messages()) != n {
		t.Errorf("sent during the outage: %q", u.Last().Text)
	}
	// A person's own mistake is not an error at all.
	r.core.Sessions = r.sessions
	r.rewire()
	if _, err := r.handler.Handle(context.Background(), textUpdate(2, 990, "/nonsense"), false); err != nil {
		t.Fatalf("unknown command: %v", err)
	}
}
