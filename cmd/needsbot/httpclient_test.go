package main

import (
	"net/http"
	"testing"
)

// The direct calls' client shares the library's connections but not its
// body-buffering wrapper: http.Client then bounds a call by its context
// (no timer goroutine per call) because it knows the transport.
func TestDirectClientBareTransport(t *testing.T) {
	c := httpClient()
	d := directClient(c)
	tr, ok := d.Transport.(*http.Transport)
	if !ok || tr != c.Transport.(bufferedBodies).next || d.Timeout != c.Timeout || d == c {
		t.Fatalf("direct client %T %+v, library's %T", d.Transport, d, c.Transport)
	}
}
