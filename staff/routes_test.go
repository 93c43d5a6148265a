package staff

import (
	"testing"

	"github.com/needsbot/needsbot/menu"
)

// Every route of the routing table has a handler here once its feature
// is configured, and the dispatcher knows no route outside the table.
func TestEveryRouteHandled(t *testing.T) {
	h := &Handler{cfg: Config{Results: &fakeResults{}, Directory: fakeDirectory{}, DirectoryEditor: fakeDirectory{}, Publisher: fakePublisher{}}}
	rt := h.routes()
	for _, e := range menu.Routes() {
		if rt[e.Route] == nil {
			t.Errorf("route %q (%s) has no handler", e.Route, e.What)
		}
	}
	if len(rt) != len(menu.Routes()) {
		t.Errorf("%d handlers for %d routes", len(rt), len(menu.Routes()))
	}
	// Unconfigured features are not handled (the button is stale).
	bare := (&Handler{}).routes()
	if bare[menu.Results] != nil || bare[menu.Directory] != nil || bare[menu.Forms] != nil {
		t.Error("results, directory or forms routed without being configured")
	}
}

type fakeDirectory struct {
	DirectoryEntries
	DirectoryEditor
}

type fakePublisher struct{ FormPublisher }
